/**
 * A container on a network between containers: its address, its names in
 * the DNS answerer's config, and the veth pair from its network namespace to
 * the network's bridge. aardvark-dns's config file for a network is one line
 * with the gateway, then one line per container: "ID IPV4 IPV6 NAME,ALIAS...";
 * that file is also the list of the network's addresses in use.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RiboError } from '../../errors.js';
import { writeFileAtomic } from '../../files/atomic-write.js';
import { withFileLock } from '../../files/lock.js';
import { aardvarkPid, BRIDGE, enterHolder, holderFiles, runningHolder } from './holder.js';
import { subnetPrefix } from './store.js';

export class NetworkAttachError extends RiboError {}

/** What a container's bundle needs to join a network (kept in the container's record). */
export interface NetworkAttachment {
  network: string;
  /** The network's dir in the store (store.ts). */
  dir: string;
  subnet: string;
  gateway: string;
  /** --network-alias: more names the other containers reach this one by. */
  aliases: string[];
}

/** One container line of the DNS config. */
export interface Endpoint {
  id: string;
  ip: string;
  names: string[];
}

function configFile(attachment: Pick<NetworkAttachment, 'dir' | 'network'>): string {
  return path.join(holderFiles(attachment.dir).dnsDir, attachment.network);
}

/** The containers attached to a network now (from the DNS config). */
export async function listEndpoints(networkDir: string, network: string): Promise<Endpoint[]> {
  const text = await readFile(configFile({ dir: networkDir, network }), 'utf8').catch(() => '');
  return text.split('\n').slice(1).filter(Boolean).map((line) => {
    const [id, ip, , names] = line.split(' ');
    return { id: id!, ip: ip!, names: (names ?? '').split(',').filter(Boolean) };
  });
}

async function updateEndpoints(attachment: NetworkAttachment, change: (lines: string[]) => string[]): Promise<void> {
  const file = configFile(attachment);
  const text = await readFile(file, 'utf8').catch(() => '');
  if (!text) throw new NetworkAttachError(`Network ${attachment.network} is not running (no ${file}); start the container again.`);
  const [gateway, ...lines] = text.split('\n').filter(Boolean);
  await writeFileAtomic(file, [gateway, ...change(lines)].join('\n') + '\n', { mode: 0o600 });
  // aardvark-dns reads its config again on SIGHUP.
  const pid = await aardvarkPid(attachment.dir);
  if (pid) process.kill(pid, 'SIGHUP');
}

function withEndpointsLock<T>(attachment: NetworkAttachment, fn: () => Promise<T>): Promise<T> {
  const describe = (s: number) => new RiboError(`Another ribo held the lock of network ${attachment.network} for ${s} s; try again.`);
  return withFileLock(path.join(attachment.dir, 'endpoints.lock'), 60, describe, fn);
}

/** Chooses a free address for container `id` and publishes its names; returns the address. */
export async function reserveAddress(attachment: NetworkAttachment, id: string, names: string[]): Promise<string> {
  return withEndpointsLock(attachment, async () => {
    const used = new Set((await listEndpoints(attachment.dir, attachment.network)).filter((e) => e.id !== id).map((e) => e.ip));
    const prefix = subnetPrefix(attachment.subnet);
    let ip: string | undefined;
    for (let host = 2; !ip && host < 255; host++) if (!used.has(`${prefix}.${host}`)) ip = `${prefix}.${host}`;
    if (!ip) throw new NetworkAttachError(`Network ${attachment.network} has no free address left in ${attachment.subnet}; remove containers from it first.`);
    const line = `${id} ${ip}  ${[...new Set(names)].join(',')}`;
    await updateEndpoints(attachment, (lines) => [...lines.filter((l) => !l.startsWith(`${id} `)), line]);
    return ip;
  });
}

/** Takes container `id`'s names and address off the network. */
export async function releaseAddress(attachment: NetworkAttachment, id: string): Promise<void> {
  await withEndpointsLock(attachment, () => updateEndpoints(attachment, (lines) => lines.filter((l) => !l.startsWith(`${id} `)))).catch(() => undefined);
}

/**
 * A veth pair: eth0 in the container's network namespace (bound at
 * `netnsFile`) with its address and the gateway as default route, its peer
 * on the bridge in the holder's namespace. Runs in the holder's user
 * namespace (or as root), where both namespaces may be changed.
 */
export async function attachToBridge(attachment: NetworkAttachment, netnsFile: string, id: string, ip: string): Promise<void> {
  const holder = await runningHolder(attachment.dir);
  if (!holder) throw new NetworkAttachError(`Network ${attachment.network} is not running (its holder process is gone); run the container again, which starts it.`);
  const peer = `rv${id.slice(0, 11)}`;
  const inContainer = [
    'set -e',
    'ip link add eth0 type veth peer name "$1" netns "$2"',
    'ip addr add "$3/24" dev eth0',
    'ip link set eth0 up',
    'ip link set lo up',
    'ip route add default via "$4"',
  ].join('\n');
  const made = await execa('nsenter', [`--net=${netnsFile}`, '--', 'sh', '-c', inContainer, 'ribo-veth', peer, String(holder.pid), ip, attachment.gateway], { reject: false });
  if (made.exitCode !== 0) throw new NetworkAttachError(`Could not connect the container to network ${attachment.network}: ${made.stderr.trim() || `exit ${made.exitCode}`}.`);
  const bridged = await execa('nsenter', [...enterHolder(holder.pid, false), '--', 'ip', 'link', 'set', peer, 'master', BRIDGE, 'up'], { reject: false });
  if (bridged.exitCode !== 0) throw new NetworkAttachError(`Could not put the container on the bridge of network ${attachment.network}: ${bridged.stderr.trim() || `exit ${bridged.exitCode}`}.`);
}
