/**
 * docker run's -p/--publish and -P/--publish-all, turned into one mapping per
 * port: -p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO], ranges of equal length.
 */
// Static: the bundle runs as a vm.Script, which cannot import('node:...') (docs/architecture.md).
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { UsageError } from '../errors.js';
import type { PortMapping } from '../runtime/network.js';

function portRange(text: string, value: string): [number, number] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  const first = Number(match?.[1]);
  const last = match?.[2] !== undefined ? Number(match[2]) : first;
  if (!match || first < 1 || last > 65535 || last < first) throw new UsageError(`-p ${value}: "${text}" is not a port or range of ports (1-65535, e.g. 8080 or 8080-8081).`);
  return [first, last];
}

/** One -p value; a host port of 0 means "a free one", chosen later (freeHostPorts). */
export function parsePublish(value: string): PortMapping[] {
  const slash = value.lastIndexOf('/');
  const protocol = slash < 0 ? 'tcp' : value.slice(slash + 1).toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') throw new UsageError(`-p ${value}: unknown protocol "${protocol}"; use tcp or udp.`);
  const rest = slash < 0 ? value : value.slice(0, slash);
  // An IPv6 host address is written in brackets: [::1]:8080:80.
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  const parts = v6 ? [v6[1]!, ...v6[2]!.split(':')] : rest.split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(i === 1 && parts.length === 3))) throw new UsageError(`-p ${value}: expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. -p 127.0.0.1:8080:80.`);
  const [hostIp, hostText, containerText] = parts.length === 3 ? parts : parts.length === 2 ? ['', parts[0]!, parts[1]!] : ['', '', parts[0]!];
  if (hostIp && !net.isIP(hostIp)) throw new UsageError(`-p ${value}: "${hostIp}" is not an IP address; give one such as 127.0.0.1, or leave it out for all addresses.`);
  const [cFirst, cLast] = portRange(containerText!, value);
  const [hFirst, hLast] = hostText ? portRange(hostText, value) : [0, 0];
  if (hostText && hLast - hFirst !== cLast - cFirst) throw new UsageError(`-p ${value}: the host range and the container range have different lengths.`);
  const mappings: PortMapping[] = [];
  for (let i = 0; i <= cLast - cFirst; i++) mappings.push({ hostIp: hostIp || '0.0.0.0', hostPort: hostText ? hFirst + i : 0, containerPort: cFirst + i, protocol });
  return mappings;
}

/** The lowest port the kernel lets a process without privileges over the host's network bind (1024 by default). */
const UNPRIVILEGED_PORT_START = '/proc/sys/net/ipv4/ip_unprivileged_port_start';

/**
 * Rootless, host ports are bound in the host's network namespace without
 * its privileges, so a port below the kernel's limit cannot be published:
 * refused before anything is made, as podman refuses it. Where the limit
 * cannot be read, socat's own error at the start says it.
 */
export async function refusePrivilegedHostPorts(mappings: PortMapping[], limitFile = UNPRIVILEGED_PORT_START): Promise<void> {
  const start = Number((await readFile(limitFile, 'utf8').catch(() => '')).trim() || NaN);
  const low = Number.isInteger(start) ? mappings.find((m) => m.hostPort > 0 && m.hostPort < start) : undefined;
  if (!low) return;
  throw new UsageError(
    `-p ${low.hostPort}:${low.containerPort}: a rootless container cannot publish host port ${low.hostPort}; ports below ${start} need privileges over the host's network (net.ipv4.ip_unprivileged_port_start). ` +
      `Pick a host port of ${start} or more (e.g. -p ${Math.max(start, 8080)}:${low.containerPort}), or have root lower the limit: sysctl net.ipv4.ip_unprivileged_port_start=${low.hostPort}.`,
  );
}

/** Binds `port` on `hostIp` (0: the kernel's choice) and lets it go again; resolves with the port bound. */
function bindOnce(hostIp: string, port: number, protocol: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const socket = dgram.createSocket(hostIp.includes(':') ? 'udp6' : 'udp4').once('error', reject);
      socket.bind(port, hostIp, () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
      return;
    }
    const server = net.createServer().once('error', reject);
    server.listen(port, hostIp, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A port the host has free now on `hostIp` (the kernel's choice), for -p CONTAINERPORT and -P. */
function freePort(hostIp: string, protocol: 'tcp' | 'udp'): Promise<number> {
  return bindOnce(hostIp, 0, protocol);
}

/** Fills in host port 0 with free ports, marked as picked. */
export async function freeHostPorts(mappings: PortMapping[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  for (const m of mappings) out.push(m.hostPort ? m : { ...m, hostPort: await freePort(m.hostIp, m.protocol), picked: true });
  return out;
}

/** Whether `port` on `hostIp` can be bound now (EADDRINUSE: something else has it). */
async function portFree(hostIp: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  return bindOnce(hostIp, port, protocol).then(() => true, (error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') return false;
    throw error;
  });
}

/**
 * At a container's start: each host port ribo picked that something else
 * holds now (a restart later, or the moment between creation and start) is
 * picked again, as docker picks at each start; undefined when none was.
 */
export async function repickTakenPorts(mappings: PortMapping[]): Promise<PortMapping[] | undefined> {
  let changed = false;
  const out: PortMapping[] = [];
  for (const m of mappings) {
    if (m.picked && !(await portFree(m.hostIp, m.hostPort, m.protocol))) {
      out.push({ ...m, hostPort: await freePort(m.hostIp, m.protocol) });
      changed = true;
    } else out.push(m);
  }
  return changed ? out : undefined;
}

/** -P: every port the image EXPOSEs ("80/tcp" keys), each on a free host port. */
export function exposedPorts(exposed: Record<string, unknown> | undefined): PortMapping[] {
  return Object.keys(exposed ?? {}).flatMap((key) => {
    const [port, proto = 'tcp'] = key.split('/');
    const n = Number(port);
    return Number.isInteger(n) && n > 0 && (proto === 'tcp' || proto === 'udp') ? [{ hostIp: '0.0.0.0', hostPort: 0, containerPort: n, protocol: proto }] : [];
  });
}

/** `--expose PORT[-LAST][/PROTO]`, repeatable: ports the container exposes beyond its image's ("80/tcp" keys), which -P publishes. */
export function parseExpose(values: string[]): string[] {
  const keys: string[] = [];
  for (const value of values) {
    const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/i.exec(value);
    const first = Number(match?.[1]);
    const last = match?.[2] === undefined ? first : Number(match[2]);
    if (!match || first < 1 || last > 65535 || last < first) throw new UsageError(`--expose ${value}: expected PORT, FIRST-LAST, and /tcp or /udp after them if not tcp, e.g. --expose 8080 or --expose 53/udp.`);
    for (let port = first; port <= last; port++) keys.push(`${port}/${(match[3] ?? 'tcp').toLowerCase()}`);
  }
  return keys;
}

/** docker port's lines: "80/tcp -> 0.0.0.0:8080". */
export function formatPort(m: PortMapping): string {
  return `${m.containerPort}/${m.protocol} -> ${m.hostIp.includes(':') ? `[${m.hostIp}]` : m.hostIp}:${m.hostPort}`;
}

/** docker ps's PORTS column: "127.0.0.1:8080->80/tcp". */
export function formatPsPort(m: PortMapping): string {
  return `${m.hostIp.includes(':') ? `[${m.hostIp}]` : m.hostIp}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}
