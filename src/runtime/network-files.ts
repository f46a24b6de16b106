/**
 * The files every container expects in /etc: hosts, hostname and
 * resolv.conf, written to the bundle dir and bind-mounted over the image's
 * (as podman does), so they are never written into the image or a layer.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Mount } from '../oci/runtime-spec.js';
import { hostGatewayAddress, PASTA_DNS, SLIRP_DNS, SLIRP_GATEWAY, type NetworkMode } from './network.js';


/** Names under which the container reaches the host (docker's and podman's). */
export const HOST_NAMES = ['host.containers.internal', 'host.docker.internal'];

/** The host as the container reaches it: pasta and slirp4netns map their gateway to the host's loopback. */
export async function hostAddress(network: NetworkMode): Promise<string | undefined> {
  if (network === 'host') return '127.0.0.1';
  // A network between containers goes out through pasta too, masqueraded in its holder's namespace.
  if (network === 'pasta' || network === 'named') return hostGatewayAddress();
  if (network === 'slirp4netns') return SLIRP_GATEWAY;
  return undefined;
}

async function hostResolvConf(): Promise<string> {
  return readFile('/etc/resolv.conf', 'utf8').catch(() => '');
}

/** resolv.conf for the network: --dns's servers, the helper's forwarder, or the host's (host network). */
export async function resolvConf(network: NetworkMode, dns: string[] | undefined): Promise<string> {
  const host = await hostResolvConf();
  const others = host.split('\n').filter((l) => /^\s*(search|domain|options)\b/.test(l));
  const servers = dns?.length ? dns : network === 'pasta' ? [PASTA_DNS] : network === 'slirp4netns' ? [SLIRP_DNS] : undefined;
  if (!servers) return host;
  return [...servers.map((s) => `nameserver ${s}`), ...others].join('\n') + '\n';
}

export interface HostsInput {
  network: NetworkMode;
  hostname: string;
  aliases?: string[];
  addHosts?: { name: string; ip: string }[];
  /** The container's address on a network between containers (else its names point at 127.0.1.1). */
  ownAddress?: string;
}

/** /etc/hosts: loopback names, the container's own names, the host's names, then --add-host's. */
export async function hostsFile(input: HostsInput): Promise<string> {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const own = [...new Set([input.hostname, ...(input.aliases ?? [])])].join(' ');
  lines.push(`${input.ownAddress ?? '127.0.1.1'}\t${own}`);
  const host = await hostAddress(input.network);
  if (host) lines.push(`${host}\t${HOST_NAMES.join(' ')}`);
  for (const entry of input.addHosts ?? []) lines.push(`${entry.ip}\t${entry.name}`);
  return lines.join('\n') + '\n';
}

/** Writes the three files into `dir` and returns their bind mounts. */
export async function networkFileMounts(dir: string, input: HostsInput & { dns?: string[]; readonly?: boolean }): Promise<Mount[]> {
  const files: [string, string][] = [
    ['/etc/hosts', await hostsFile(input)],
    ['/etc/hostname', `${input.hostname}\n`],
    ['/etc/resolv.conf', await resolvConf(input.network, input.dns)],
  ];
  const mounts: Mount[] = [];
  for (const [target, content] of files) {
    const source = path.join(dir, path.basename(target));
    await writeFile(source, content, { mode: 0o644 });
    // --read-only covers them too, as docker and podman mount them.
    mounts.push({ destination: target, type: 'bind', source, options: input.readonly ? ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] : ['rbind', 'rw'] });
  }
  return mounts;
}
