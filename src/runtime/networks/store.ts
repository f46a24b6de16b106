/**
 * The store's networks between containers (`ribo network create`):
 * ROOT/networks/<name>/network.json holds the record (name, id, subnet,
 * gateway); the same dir holds what runs while the network is in use (the
 * holder's identity, the DNS answerer's config, holder.ts). Dirs are 0700 and
 * files 0600, as the rest of the store.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { RiboError, UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../files/atomic-write.js';
import { withFileLock } from '../../files/lock.js';

export interface NetworkRecord {
  Name: string;
  Id: string;
  Driver: 'bridge';
  Created: string;
  /** An IPv4 /24, e.g. 10.89.3.0/24; the gateway (the bridge, the DNS answerer) is .1. */
  Subnet: string;
  Gateway: string;
  Labels: Record<string, string>;
}

export class NoSuchNetworkError extends RiboError {}

/** Names --network gives another meaning; docker refuses them for user networks too. */
export const RESERVED_NETWORK_NAMES = ['bridge', 'default', 'host', 'none', 'private', 'pasta', 'slirp4netns', 'container'];
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const RECORD = 'network.json';

export function isNetworkName(name: string): boolean {
  return NAME_PATTERN.test(name) && !RESERVED_NETWORK_NAMES.includes(name);
}

export function validateNetworkName(name: string, flag: string): void {
  if (RESERVED_NETWORK_NAMES.includes(name)) throw new UsageError(`${flag}: "${name}" is a network mode of ribo run, not a name a network may have; choose another name.`);
  if (!NAME_PATTERN.test(name)) throw new UsageError(`${flag}: "${name}" is not a valid network name; use up to 63 letters, digits, "_", "." or "-", starting with a letter or digit.`);
}

/** The first three octets of a /24 ("10.89.3.0/24" → "10.89.3"). */
export function subnetPrefix(subnet: string): string {
  return subnet.replace(/\.0\/24$/, '');
}

/** --subnet A.B.C.0/24: the only form ribo's bridge networks take. */
export function parseSubnet(value: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(value);
  if (!match || match.slice(1).some((o) => Number(o) > 255)) throw new UsageError(`--subnet ${value}: ribo's networks are IPv4 /24 subnets; write A.B.C.0/24, e.g. 10.89.5.0/24.`);
  return value;
}

/** The networks/ directory of one store. */
export class NetworkStore {
  constructor(readonly dir: string) {}

  static ofStore(storeRoot: string): NetworkStore {
    return new NetworkStore(path.join(storeRoot, 'networks'));
  }

  /** Where one network's record and run-time files are. */
  dirOf(name: string): string {
    return path.join(this.dir, name);
  }

  /** Runs `fn` holding networks.lock (creating, removing, starting and stopping networks). */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const describe = (s: number) => new RiboError(`Another ribo held ${path.join(this.dir, 'networks.lock')} for ${s} s; wait for it to finish and try again.`);
    return withFileLock(path.join(this.dir, 'networks.lock'), 60, describe, fn);
  }

  async read(name: string): Promise<NetworkRecord> {
    const text = await readFile(path.join(this.dirOf(name), RECORD), 'utf8').catch(() => undefined);
    if (text === undefined || !isNetworkName(name)) throw new NoSuchNetworkError(`No network named ${name} in this store; make it with: ribo network create ${name} (ribo network ls lists them).`);
    return JSON.parse(text) as NetworkRecord;
  }

  async list(): Promise<NetworkRecord[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const records: NetworkRecord[] = [];
    for (const name of names.sort()) {
      if (!isNetworkName(name)) continue;
      const record = await this.read(name).catch(() => undefined);
      if (record) records.push(record);
    }
    return records;
  }

  /** Makes a network with the given (or the first free 10.89.N.0/24) subnet. */
  async create(name: string, options: { subnet?: string; labels?: Record<string, string> } = {}): Promise<NetworkRecord> {
    validateNetworkName(name, `network create ${name}`);
    return this.withLock(async () => {
      const existing = await this.list();
      if (existing.some((n) => n.Name === name)) throw new UsageError(`network create ${name}: a network named ${name} exists already; remove it first (ribo network rm ${name}) or choose another name.`);
      const used = new Set(existing.map((n) => n.Subnet));
      let subnet = options.subnet;
      if (subnet && used.has(subnet)) throw new UsageError(`--subnet ${subnet}: network ${existing.find((n) => n.Subnet === subnet)!.Name} uses it already; choose another subnet.`);
      for (let n = 1; !subnet && n < 255; n++) if (!used.has(`10.89.${n}.0/24`)) subnet = `10.89.${n}.0/24`;
      if (!subnet) throw new UsageError('network create: all 254 subnets 10.89.N.0/24 are taken; remove unused networks (ribo network prune) or give --subnet.');
      const record: NetworkRecord = {
        Name: name,
        Id: randomBytes(32).toString('hex'),
        Driver: 'bridge',
        Created: new Date().toISOString(),
        Subnet: subnet,
        Gateway: `${subnetPrefix(subnet)}.1`,
        Labels: options.labels ?? {},
      };
      await mkdir(this.dirOf(name), { recursive: true, mode: 0o700 });
      await writeFileAtomic(path.join(this.dirOf(name), RECORD), JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
      return record;
    });
  }

  /** Removes the record and the run-time files; the caller has stopped the holder. */
  async remove(name: string): Promise<void> {
    await rm(this.dirOf(name), { recursive: true, force: true });
  }
}
