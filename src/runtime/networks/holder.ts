/**
 * The processes that keep a network between containers alive, rootless, as
 * podman's rootless network namespace does:
 *
 * - the holder: `sleep infinity` started by `unshare` in a user namespace of
 *   its own (the caller mapped to 0 and the subordinate ids above, as ribo's
 *   usual namespace) and a network namespace of its own, which holds the
 *   bridge `ribo0` with the network's gateway address. A `ribo run --network
 *   NAME` works inside the holder's user namespace (namespace.ts), so the
 *   container's namespaces are children of it and ribo may wire a veth pair
 *   between the container and the bridge;
 * - pasta, attached to the holder's network namespace: the way out to the
 *   host and the internet (forwarding and masquerading in that namespace);
 * - aardvark-dns, podman's DNS answerer, in the holder's network namespace
 *   on the gateway's port 53: it answers the containers' names and aliases
 *   from a config file per network (endpoints.ts writes it, SIGHUP reloads)
 *   and forwards other names to pasta's DNS forwarder.
 *
 * They start with the first container on the network and run until `ribo
 * network rm` or `prune` ends them (stopNetwork), which also ends the bridge.
 */
import { spawn } from 'node:child_process';
import { constants, readFileSync, readlinkSync } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RiboError } from '../../errors.js';
import { findExecutable } from '../../files/executables.js';
import { isAlive, processIdentity, type ProcessIdentity } from '../../files/process-identity.js';
import { pastaOptions, PASTA_DNS } from '../network.js';
import type { NetworkRecord } from './store.js';

export class NetworkHolderError extends RiboError {}

/** The bridge in the holder's network namespace. */
export const BRIDGE = 'ribo0';

/** The run-time files of a network under its dir. */
export function holderFiles(networkDir: string) {
  const dns = path.join(networkDir, 'dns');
  return {
    holder: path.join(networkDir, 'holder.json'),
    pastaPid: path.join(networkDir, 'pasta.pid'),
    log: path.join(networkDir, 'holder.log'),
    resolv: path.join(networkDir, 'resolv.conf'),
    dnsDir: dns,
    aardvarkPid: path.join(dns, 'aardvark.pid'),
  };
}

/** The holder's process, when it runs. */
export async function runningHolder(networkDir: string): Promise<ProcessIdentity | undefined> {
  const text = await readFile(holderFiles(networkDir).holder, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const identity = JSON.parse(text) as ProcessIdentity;
  return isAlive(identity) ? identity : undefined;
}

/** nsenter's options to enter the holder's network namespace (and from the host, its user namespace first). */
export function enterHolder(pid: number, fromHost: boolean): string[] {
  const user = fromHost && process.getuid?.() !== 0 ? ['--preserve-credentials', '-U'] : [];
  return [...user, '-n', '-t', String(pid)];
}

/** The command name of a running process (undefined when gone or a zombie). */
function comm(pid: number): string | undefined {
  if (!processIdentity(pid)) return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new NetworkHolderError(`Timed out waiting for ${what}.`);
}

/**
 * Starts `unshare ... sleep infinity` and waits until it is in its new
 * namespaces; `spawned` records it first, so a ribo killed meanwhile leaves
 * no holder that stopNetwork does not know of.
 */
async function startHolderProcess(spawned: (holder: ProcessIdentity) => Promise<void>): Promise<ProcessIdentity> {
  const rootless = process.getuid?.() !== 0;
  const args = [...(rootless ? ['--map-auto', '--map-root-user'] : []), '--net', '--', 'sleep', 'infinity'];
  const child = spawn('unshare', args, { stdio: 'ignore', detached: true });
  child.unref();
  const pid = child.pid;
  if (!pid) throw new NetworkHolderError('Could not start unshare for the network\'s namespaces; install util-linux.');
  // The pid and start time stay the same when unshare executes sleep.
  const identity = processIdentity(pid) ?? { pid, start: 0 };
  await spawned(identity);
  const ownNet = readlinkSync('/proc/self/ns/net');
  await waitFor(() => {
    if (child.exitCode !== null) throw new NetworkHolderError(`unshare exited ${child.exitCode} before the network's namespaces existed; check /etc/subuid and /etc/subgid for your user.`);
    try {
      return comm(pid) === 'sleep' && readlinkSync(`/proc/${pid}/ns/net`) !== ownNet;
    } catch {
      return false;
    }
  }, 'the network holder to enter its namespaces');
  return identity;
}

/** The bridge, forwarding and masquerading for the subnet, in the holder's network namespace. */
async function configureBridge(pid: number, network: NetworkRecord, log: string): Promise<void> {
  const script = [
    'set -e',
    `ip link add ${BRIDGE} type bridge`,
    `ip addr add "$1/24" dev ${BRIDGE}`,
    `ip link set ${BRIDGE} up`,
    'ip link set lo up',
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
    // Without iptables containers still reach each other, only not the outside.
    'iptables -t nat -A POSTROUTING -s "$2" ! -d "$2" -j MASQUERADE || echo "ribo: no masquerading (iptables failed): no way out of the network" >&2',
  ].join('\n');
  const result = await execa('nsenter', [...enterHolder(pid, true), '--', 'sh', '-c', script, 'ribo-bridge', network.Gateway, network.Subnet], { reject: false });
  await writeFile(log, `${result.stdout}\n${result.stderr}\n`, { flag: 'a', mode: 0o600 });
  if (result.exitCode !== 0) throw new NetworkHolderError(`Could not make the bridge of network ${network.Name}: ${result.stderr.trim() || `exit ${result.exitCode}`}. Check that the ip command (iproute2) is installed.`);
}

/** pasta on the holder's network namespace: the network's way out (no ports forwarded). */
async function startPastaForHolder(pid: number, networkDir: string): Promise<void> {
  const files = holderFiles(networkDir);
  if (!(await findExecutable('pasta'))) return;
  const rootless = process.getuid?.() !== 0;
  // From the host a rootless user cannot switch to uid 0 (--runas, for root's pasta only).
  const options = pastaOptions([]).filter((word, i, all) => !rootless || (word !== '--runas' && all[i - 1] !== '--runas'));
  const userns = rootless ? ['--userns', `/proc/${pid}/ns/user`] : [];
  const result = await execa('pasta', [...options, '-P', files.pastaPid, ...userns, '--netns', `/proc/${pid}/ns/net`], { reject: false, stdin: 'ignore' });
  await writeFile(files.log, `${result.stderr}\n`, { flag: 'a', mode: 0o600 });
}

/** aardvark-dns: on PATH, or where Debian and Fedora put podman's helpers. */
export async function findAardvark(): Promise<string> {
  const candidates = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns'];
  let found = await findExecutable('aardvark-dns');
  for (const file of candidates) if (!found && (await access(file, constants.X_OK).then(() => true, () => false))) found = file;
  if (!found) throw new NetworkHolderError('Networks between containers need aardvark-dns (Debian package aardvark-dns) to answer container names; install it (as root: apt-get install aardvark-dns).');
  return found;
}

/** The DNS answerer's pid, when it runs. */
export async function aardvarkPid(networkDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(holderFiles(networkDir).aardvarkPid, 'utf8').catch(() => '')).trim());
  return pid > 0 && comm(pid)?.startsWith('aardvark') ? pid : undefined;
}

/**
 * aardvark-dns in the holder's network namespace, with pasta's forwarder as
 * its upstream (its own mount namespace shows it a resolv.conf naming it).
 * It forks and its first process exits once it answers.
 */
async function startAardvark(pid: number, network: NetworkRecord, networkDir: string): Promise<void> {
  const files = holderFiles(networkDir);
  const aardvark = await findAardvark();
  await mkdir(files.dnsDir, { recursive: true, mode: 0o700 });
  const configFile = path.join(files.dnsDir, network.Name);
  const current = await readFile(configFile, 'utf8').catch(() => '');
  // The first line names the addresses it listens on: the gateway.
  if (!current) await writeFile(configFile, `${network.Gateway}\n`, { mode: 0o600 });
  await writeFile(files.resolv, `nameserver ${PASTA_DNS}\n`, { mode: 0o600 });
  const script = 'mount --bind "$1" /etc/resolv.conf && exec "$2" --config "$3" -p 53 run';
  const result = await execa('nsenter', [...enterHolder(pid, true), '--', 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'ribo-dns', files.resolv, aardvark, files.dnsDir], { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new NetworkHolderError(`aardvark-dns could not start for network ${network.Name}: ${result.stderr.trim() || `exit ${result.exitCode}`}.`);
}

/**
 * The holder of `network`, started (with its bridge, pasta and aardvark-dns)
 * when it is not running. The caller holds the store's networks lock.
 */
export async function ensureNetworkRunning(network: NetworkRecord, networkDir: string): Promise<ProcessIdentity> {
  const running = await runningHolder(networkDir);
  if (running) {
    if (!(await aardvarkPid(networkDir))) await startAardvark(running.pid, network, networkDir);
    return running;
  }
  // Anything a dead holder left: its DNS answerer and pasta, then the old config (no container is attached any more).
  await stopNetwork(networkDir);
  const files = holderFiles(networkDir);
  await mkdir(networkDir, { recursive: true, mode: 0o700 });
  try {
    const holder = await startHolderProcess((spawned) => writeFile(files.holder, JSON.stringify(spawned), { mode: 0o600 }));
    await configureBridge(holder.pid, network, files.log);
    await startPastaForHolder(holder.pid, networkDir);
    await startAardvark(holder.pid, network, networkDir);
    return holder;
  } catch (error) {
    await stopNetwork(networkDir);
    throw error;
  }
}

async function endProcess(pid: number | undefined, isOurs: () => boolean): Promise<void> {
  if (!pid || !isOurs()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 500 && isOurs(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (isOurs()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Ends aardvark-dns, pasta and the holder of a network (the bridge goes with its namespace). */
export async function stopNetwork(networkDir: string): Promise<void> {
  const files = holderFiles(networkDir);
  const dns = await aardvarkPid(networkDir);
  await endProcess(dns, () => comm(dns!)?.startsWith('aardvark') === true);
  const pasta = Number((await readFile(files.pastaPid, 'utf8').catch(() => '')).trim());
  await endProcess(pasta, () => ['pasta', 'passt', 'pasta.avx2', 'passt.avx2'].includes(comm(pasta) ?? ''));
  const holder = await runningHolder(networkDir);
  if (holder) await endProcess(holder.pid, () => isAlive(holder));
  await rm(files.holder, { force: true });
  await rm(files.pastaPid, { force: true });
  await rm(files.dnsDir, { recursive: true, force: true });
}
