/**
 * A container's own network: a network namespace the runtime creates with
 * the container's user namespace (so a fresh sysfs can be mounted in it),
 * connected to the host by slirp4netns or pasta (defaultUserModeNetwork).
 *
 * The runtime runs a createRuntime hook once the namespaces exist and before
 * the container's process starts. The hook bind-mounts the namespaces onto
 * files in the container's dir, then waits on a FIFO. The supervisor (not the
 * hook: crun is a child subreaper and would wait for a daemon the hook left)
 * starts the network helper on those files and answers "ok" or "fail" on the
 * FIFO, so the container's process never runs before its network is up.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RiboError } from '../errors.js';
import type { Hook } from '../oci/runtime-spec.js';
import { findExecutable } from '../files/executables.js';
import { canProxy, startPortProxies, stopPortProxies } from './port-proxy.js';

/**
 * 'named' is a network between containers (networks/: a veth to a bridge in
 * a holder's namespace); 'container' joins another container's namespace.
 */
export type NetworkMode = 'host' | 'none' | 'private' | 'pasta' | 'slirp4netns' | 'named' | 'container';

/** A published port: docker's -p HOSTIP:HOSTPORT:CONTAINERPORT/PROTO, one port each. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** The host port was ribo's choice (-P, -p CONTAINERPORT): a start finding it taken picks another. */
  picked?: boolean;
}

export class NetworkError extends RiboError {}

/** Modes that connect the container to the outside through a user-mode helper. */
export function isUserModeNetwork(mode: string): mode is 'pasta' | 'slirp4netns' {
  return mode === 'pasta' || mode === 'slirp4netns';
}

/** Modes whose new network namespace is handed to ribo by the runtime hook before the container starts. */
export function needsNetworkHook(mode: string): boolean {
  return isUserModeNetwork(mode) || mode === 'named';
}

/**
 * The default network (docker's "bridge"): slirp4netns, as rootless podman 4
 * and rootless docker give, unless the run publishes ports only pasta
 * forwards (slirpCarries); either one when the other is missing.
 * slirp4netns is ready in a few ms and costs little CPU; pasta's start costs
 * tens of ms of both (docs/architecture.md, "Networks").
 */
export async function defaultUserModeNetwork(ports: PortMapping[]): Promise<'pasta' | 'slirp4netns'> {
  const slirp = await findExecutable('slirp4netns');
  if (slirp && (await slirpCarries(ports))) return 'slirp4netns';
  if (await findExecutable('pasta')) return 'pasta';
  if (slirp) return 'slirp4netns';
  throw new NetworkError('The default network needs slirp4netns or pasta (Debian package passt), and neither is installed. Install one (as root: apt-get install slirp4netns), or run with --network host or --network none.');
}

/** More TCP ports than this (a large range) stay with pasta: one process for all rather than one each. */
const MAX_PROXIED_PORTS = 32;

/**
 * Whether slirp4netns can publish `ports`: TCP ports go through socat
 * listeners (port-proxy.ts) whatever the helper, up to MAX_PROXIED_PORTS;
 * UDP ports only pasta forwards (slirp4netns would need its API socket).
 */
export async function slirpCarries(ports: PortMapping[]): Promise<boolean> {
  if (ports.length === 0) return true;
  if (ports.some((p) => p.protocol !== 'tcp') || ports.length > MAX_PROXIED_PORTS) return false;
  return Boolean((await findExecutable('socat')) && (await findExecutable('nsenter')));
}

/** The files of one container's network under its dir. */
export function networkFiles(dir: string) {
  const net = path.join(dir, 'net');
  return { dir: net, netns: path.join(net, 'netns'), userns: path.join(net, 'userns'), fifo: path.join(net, 'ready.fifo'), pid: path.join(net, 'helper.pid'), log: path.join(net, 'helper.log') };
}

/**
 * The createRuntime hook of a container whose namespaces were made before the
 * runtime started (bin/run-plan.sh): pasta configures them meanwhile, and the
 * hook only waits for its answer, `ok` or `fail`, on the FIFO. One process,
 * not a shell and a `cat`: grep reads the state on stdin to its end (which
 * the runtime needs, see networkHook; a JSON state has no line that is just
 * `ok`), then the FIFO, and succeeds only on the line `ok`.
 */
export function networkReadyHook(dir: string): Hook {
  return { path: '/bin/grep', args: ['grep', '-qx', 'ok', '-', networkFiles(dir).fifo], timeout: 30 };
}

/**
 * The createRuntime hook: reads the container's pid from the state on stdin,
 * binds its namespaces to files, and waits for the supervisor's answer.
 * The state is read with `cat`: the shell's `read` takes a byte per system
 * call (13 ms for the 12 KB of crun's compiled seccomp filter among the
 * annotations). It is read to its end: the runtime writes all of it before
 * it goes on, and a pipe may hold only 4 KB (once the user's pipes pass
 * pipe-user-pages-soft, as with several containers under conmon).
 */
export function networkHook(dir: string): Hook {
  const f = networkFiles(dir);
  const script = [
    's=$(cat); p=${s#*\\"pid\\":}; p=${p%%,*}; p=${p%%\\}*}',
    ': > "$1" && : > "$2" && mount --bind /proc/$p/ns/net "$1" && mount --bind /proc/$p/ns/user "$2" || exit 1',
    'read -r answer < "$3"; [ "$answer" = ok ]',
  ].join('\n');
  return { path: '/bin/sh', args: ['sh', '-c', script, NETWORK_HOOK_NAME, f.netns, f.userns, f.fifo], timeout: 30 };
}

/** The hook's $0, by which a config's network hook is known (isNetworkHook). */
const NETWORK_HOOK_NAME = 'ribo-network-hook';

/** Whether `hook` is the one networkHook made. */
export function isNetworkHook(hook: Hook): boolean {
  return hook.args?.[3] === NETWORK_HOOK_NAME;
}

/** pasta's -t/-u options for the published ports; "none" keeps pasta from forwarding what it finds listening. */
function pastaPortArgs(ports: PortMapping[]): string[] {
  const args: string[] = [];
  for (const protocol of ['tcp', 'udp'] as const) {
    const flag = protocol === 'tcp' ? '-t' : '-u';
    const mine = ports.filter((p) => p.protocol === protocol);
    if (mine.length === 0) args.push(flag, 'none');
    for (const p of mine) {
      const address = p.hostIp && p.hostIp !== '0.0.0.0' ? `${p.hostIp}/` : '';
      args.push(flag, `${address}${p.hostPort}:${p.containerPort}`);
    }
  }
  return args;
}

/** The address the container's default gateway has; pasta maps it to the host's loopback. */
export async function hostGatewayAddress(): Promise<string | undefined> {
  const routes = await readFile('/proc/net/route', 'utf8').catch(() => '');
  for (const line of routes.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === '00000000' && fields[2] && fields[2] !== '00000000') {
      const hex = fields[2];
      return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.');
    }
  }
  return undefined;
}

/** The address pasta's DNS forwarder answers on in the container (as podman uses). */
export const PASTA_DNS = '169.254.1.1';

/** Where slirp4netns puts the host (its gateway) and its DNS forwarder. */
export const SLIRP_GATEWAY = '10.0.2.2';
export const SLIRP_DNS = '10.0.2.3';

async function waitExit(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/**
 * pasta's options but the per-container files (also written into run plans).
 * IPv4 only, as docker's default bridge gives (podman 4's adds IPv6), unless
 * pasta forwards published (UDP) ports, which then answer on the host's IPv6
 * addresses too; IPv4 alone also starts pasta about 9 ms sooner here.
 */
export function pastaOptions(ports: PortMapping[]): string[] {
  // As root pasta would switch to nobody, who may not enter the container's user namespace.
  return ['--runas', '0:0', '--config-net', ...(ports.length === 0 ? ['-4'] : []), ...pastaPortArgs(ports), '-T', 'none', '-U', 'none', '--dns-forward', PASTA_DNS];
}

/**
 * The interface of the ports-only pasta (below) in the container's
 * namespace: a link-local /30 of its own, so it never meets a real network.
 */
const FORWARDER = { ifname: 'ribo-ports', address: '169.254.8.2', gateway: '169.254.8.1', table: '100' };

/**
 * pasta only forwarding published ports into a namespace that has its own
 * way out (a network between containers). Connections from the host's
 * loopback are spliced into the namespace's loopback; others arrive on its
 * interface, addressed to FORWARDER.address.
 */
export function portForwarderOptions(ports: PortMapping[]): string[] {
  return [
    '--runas', '0:0', ...pastaPortArgs(ports), '-T', 'none', '-U', 'none', '-I', FORWARDER.ifname,
    '-a', FORWARDER.address, '-n', '30', '-g', FORWARDER.gateway, '--no-dhcp', '--no-dhcpv6', '--no-ndp', '--no-ra', '--no-map-gw',
  ];
}

/**
 * Brings the ports-only pasta's interface up, and sends what the container
 * answers from its address back through it (a routing rule and table of
 * its own), leaving the namespace's own default route alone.
 */
async function configurePortForwarder(netnsFile: string): Promise<void> {
  const f = FORWARDER;
  const script = [
    'set -e',
    `ip addr add ${f.address}/30 dev ${f.ifname}`,
    `ip link set ${f.ifname} up`,
    `ip route add default via ${f.gateway} dev ${f.ifname} table ${f.table}`,
    `ip rule add from ${f.address} table ${f.table}`,
  ].join('\n');
  const result = await execa('nsenter', [`--net=${netnsFile}`, '--', 'sh', '-c', script], { reject: false });
  if (result.exitCode !== 0) throw new NetworkError(`Could not set up the published ports' interface in the container: ${result.stderr.trim() || `exit ${result.exitCode}`}.`);
}

/**
 * Publishes `ports` and, unless `portsOnly` (a network between containers,
 * which has its own way out), connects the namespaces bound under `dir` to
 * the outside with pasta. TCP ports go through socat listeners
 * (port-proxy.ts, faster than pasta's path); UDP ports through pasta.
 */
export async function startPasta(dir: string, ports: PortMapping[], portsOnly = false): Promise<void> {
  const f = networkFiles(dir);
  const tcp = ports.filter((p) => p.protocol === 'tcp');
  const proxied = tcp.length > 0 && tcp.length <= MAX_PROXIED_PORTS && (await canProxy([f.userns, f.netns])) ? tcp : [];
  const pastaPorts = ports.filter((p) => !proxied.includes(p));
  if (!portsOnly || pastaPorts.length > 0) await runPasta(dir, pastaPorts, portsOnly);
  if (proxied.length > 0) await startPortProxies(f.dir, proxied, f.userns, f.netns, (message) => new NetworkError(message));
}

async function runPasta(dir: string, ports: PortMapping[], portsOnly: boolean): Promise<void> {
  const f = networkFiles(dir);
  const log = await open(f.log, 'w');
  // Without -f pasta forks once the namespace is configured: its exit is the ready signal.
  const options = portsOnly ? portForwarderOptions(ports) : pastaOptions(ports);
  const child = spawn('pasta', [...options, '-P', f.pid, '--userns', f.userns, '--netns', f.netns], {
    stdio: ['ignore', 'ignore', log.fd],
  });
  const code = await waitExit(child);
  await log.close();
  if (code === 0 && portsOnly) await configurePortForwarder(f.netns);
  if (code !== 0) {
    const text = (await readFile(f.log, 'utf8').catch(() => '')).split('\n').filter((l) => l && !l.includes('syslog')).slice(-3).join(' ');
    throw new NetworkError(`pasta could not set up the container's network (exit ${code}): ${text || 'no message'}. Check that /dev/net/tun exists and is usable (mode 0666), or run with --network host.`);
  }
}

/**
 * slirp4netns's options but its fds, the namespaces and the interface (also
 * written into run plans): it brings up SLIRP_INTERFACE in the namespace at
 * 10.0.2.100, with the host's loopback at the gateway 10.0.2.2 (as pasta maps
 * its gateway) and DNS at 10.0.2.3; IPv4 only, as docker's default bridge.
 */
export function slirpOptions(): string[] {
  return ['--configure', '--mtu=65520'];
}

/** The container's interface: eth0, as docker names it (podman's slirp4netns says tap0; pasta copies the host's name). */
export const SLIRP_INTERFACE = 'eth0';

async function startSlirp(dir: string, ports: PortMapping[]): Promise<void> {
  const f = networkFiles(dir);
  if (!(await slirpCarries(ports)) || (ports.length > 0 && !(await canProxy([f.userns, f.netns])))) {
    throw new NetworkError('slirp4netns publishes only TCP ports, up to 32, through socat listeners (Debian packages socat and util-linux). Use --network pasta (Debian package passt) for UDP ports or more, or leave out -p.');
  }
  const log = await open(f.log, 'w');
  // slirp4netns stays in the foreground and says on --ready-fd when the namespace is configured.
  const child = spawn('slirp4netns', [...slirpOptions(), '--ready-fd=3', '--userns-path', f.userns, '--netns-type=path', f.netns, SLIRP_INTERFACE], {
    stdio: ['ignore', 'ignore', log.fd, 'pipe'],
    detached: true,
  });
  await log.close();
  const ready = await new Promise<boolean>((resolve) => {
    (child.stdio[3] as NodeJS.ReadableStream).once('data', () => resolve(true));
    child.once('exit', () => resolve(false));
    child.once('error', () => resolve(false));
  });
  if (!ready || !child.pid) throw new NetworkError(`slirp4netns could not set up the container's network: ${(await readFile(f.log, 'utf8').catch(() => '')).trim() || 'no message'}.`);
  (child.stdio[3] as unknown as { destroy(): void }).destroy();
  child.unref();
  const handle = await open(f.pid, 'w');
  await handle.writeFile(`${child.pid}\n`);
  await handle.close();
  if (ports.length > 0) await startPortProxies(f.dir, ports, f.userns, f.netns, (message) => new NetworkError(message));
}

/** Makes the network dir and the FIFO the hook waits on; call before the runtime starts. */
export async function prepareNetwork(dir: string): Promise<void> {
  const f = networkFiles(dir);
  await mkdir(f.dir, { recursive: true });
  await rm(f.fifo, { force: true });
  await execa('mkfifo', ['-m', '0600', f.fifo]);
}

/**
 * Answers the hook: waits until it has bound the namespaces (it opens the
 * FIFO), starts the helper (or `attach`es the namespace another way), and
 * says "ok" (or "fail", which stops the container). Gives up when `exited` settles first (the runtime failed).
 */
export async function connectNetwork(dir: string, mode: 'pasta' | 'slirp4netns' | 'named', ports: PortMapping[], exited: Promise<unknown>, attach?: (netnsFile: string) => Promise<void>): Promise<void> {
  const f = networkFiles(dir);
  let done = false;
  void exited.finally(async () => {
    if (done) return;
    // Unblocks our pending open for writing when the hook never came.
    const reader = await open(f.fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    setTimeout(() => void reader?.close(), 100);
  }).catch(() => undefined);
  const writer = await open(f.fifo, 'w');
  let answer = 'fail';
  try {
    if (done) return;
    if (attach) await attach(f.netns);
    else await (mode === 'pasta' ? startPasta(dir, ports) : startSlirp(dir, ports));
    answer = 'ok';
  } finally {
    done = true;
    await writer.write(`${answer}\n`).catch(() => undefined);
    await writer.close();
  }
}

/** Stops the helper and unbinds the namespaces; harmless when nothing was set up. */
export async function disconnectNetwork(dir: string): Promise<void> {
  const f = networkFiles(dir);
  await stopPortProxies(f.dir);
  const pid = Number((await readFile(f.pid, 'utf8').catch(() => '')).trim());
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  // One umount for both (it goes on past a target that is not mounted): each process started costs a few ms here.
  await execa('umount', ['-l', f.netns, f.userns], { reject: false });
  await rm(f.dir, { recursive: true, force: true });
}
