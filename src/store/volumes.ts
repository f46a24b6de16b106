/**
 * The store's volumes: ROOT/volumes/<name>/ holds volume.json (the record)
 * and _data/ (what containers see), as docker's local driver lays them out.
 * Volumes are not layers: nothing that collects garbage in the store
 * (prune, rmi, crash recovery) looks under volumes/; only `ribo volume rm`,
 * `volume prune`, `ribo rm -v` and `run --rm` (a container's anonymous
 * volumes) delete one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RiboError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { isErrno } from '../files/errno.js';
import { withStoreLock } from './lock.js';

/** Docker's label on volumes made for a VOLUME path or `-v /path`; ribo marks anonymous volumes the same way. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
}

/** What `volume inspect` shows: the record and where the data is. */
export interface VolumeInfo extends VolumeRecord {
  Mountpoint: string;
}

export class NoSuchVolumeError extends RiboError {}

/** Docker's rule for volume names. */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const RECORD = 'volume.json';
/** Volumes are built under this prefix and renamed into place, and renamed to it before removal. */
const TEMP_PREFIX = '.tmp-';

export function isVolumeName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function validateVolumeName(name: string, flag: string): void {
  if (!isVolumeName(name)) {
    throw new UsageError(`${flag}: "${name}" is not a valid volume name; use at least two letters, digits, "_", "." or "-", starting with a letter or digit.`);
  }
}

/** The volumes/ directory of one store. */
export class VolumeStore {
  constructor(readonly dir: string) {}

  static ofStore(storeRoot: string): VolumeStore {
    return new VolumeStore(path.join(storeRoot, 'volumes'));
  }

  /**
   * Runs `fn` holding volumes.lock: container creation (choosing volumes and
   * writing the record that names them) and removal (checking no record
   * names a volume, then deleting it) exclude each other.
   */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    await fs.mkdir(path.dirname(this.dir), { recursive: true });
    return withStoreLock(`${this.dir}.lock`, 60, fn);
  }

  /** The directory containers mount. */
  dataDir(name: string): string {
    return path.join(this.dir, name, '_data');
  }

  private recordPath(name: string): string {
    return path.join(this.dir, name, RECORD);
  }

  /**
   * Creates the volume unless it exists; returns its record and whether it
   * was made now. It is assembled in a temporary dir and renamed into place,
   * so a crash or a concurrent creator never leaves half a volume.
   */
  async ensure(name: string, labels: Record<string, string> = {}): Promise<{ record: VolumeRecord; created: boolean }> {
    validateVolumeName(name, 'volume');
    const existing = await this.lookup(name);
    if (existing) return { record: existing, created: false };
    await fs.mkdir(this.dir, { recursive: true });
    const temp = path.join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    const record: VolumeRecord = { Name: name, Driver: 'local', CreatedAt: new Date().toISOString(), Labels: labels, Scope: 'local' };
    await fs.mkdir(path.join(temp, '_data'), { recursive: true, mode: 0o755 });
    await fs.chmod(path.join(temp, '_data'), 0o755);
    await writeFileAtomic(path.join(temp, RECORD), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644, fsync: true });
    try {
      await fs.rename(temp, path.join(this.dir, name));
      return { record, created: true };
    } catch (error) {
      await fs.rm(temp, { recursive: true, force: true });
      if (!isErrno(error, 'EEXIST', 'ENOTEMPTY')) throw error;
      return { record: await this.get(name), created: false };
    }
  }

  /** A new anonymous volume: a random 64-hex name, as docker gives them. */
  async createAnonymous(): Promise<VolumeRecord> {
    return (await this.ensure(randomBytes(32).toString('hex'), { [ANONYMOUS_LABEL]: '' })).record;
  }

  async lookup(name: string): Promise<VolumeRecord | undefined> {
    if (!isVolumeName(name)) return undefined;
    try {
      return JSON.parse(await fs.readFile(this.recordPath(name), 'utf8')) as VolumeRecord;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw new RiboError(`The record of volume ${name} (${this.recordPath(name)}) is unreadable: ${(error as Error).message}. Remove the volume (ribo volume rm ${name}) or repair the file.`);
    }
  }

  async get(name: string): Promise<VolumeRecord> {
    const record = await this.lookup(name);
    if (!record) throw new NoSuchVolumeError(`No such volume: ${name}. \`ribo volume ls\` lists this store's volumes.`);
    return record;
  }

  info(record: VolumeRecord): VolumeInfo {
    return { ...record, Mountpoint: this.dataDir(record.Name) };
  }

  /** Every volume with a readable record, by name. */
  async list(): Promise<VolumeRecord[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const records: VolumeRecord[] = [];
    for (const name of names.filter(isVolumeName).sort()) {
      const record = await this.lookup(name).catch(() => undefined);
      if (record) records.push(record);
    }
    return records;
  }

  /**
   * Deletes a volume: first renamed out of the way (it is gone at once, and
   * a crash leaves only a temporary dir), then `removeTree` deletes the files,
   * which may belong to container users (the caller knows how).
   */
  async remove(name: string, removeTree: (dir: string) => Promise<void>): Promise<void> {
    await this.get(name);
    const doomed = path.join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    await fs.rename(path.join(this.dir, name), doomed);
    await removeTree(doomed);
  }

  /** Leftovers of creations and removals cut short (a crash): safe to delete. */
  async leftovers(): Promise<string[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(TEMP_PREFIX)).map((n) => path.join(this.dir, n));
  }
}

export function isAnonymous(record: VolumeRecord): boolean {
  return Object.hasOwn(record.Labels ?? {}, ANONYMOUS_LABEL);
}
