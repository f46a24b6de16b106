/**
 * The store's record of containers: containers/<id>/state.json next to the
 * container's writable layer, bundle and log. A record outlives the process
 * that made it, so `ps`, `logs`, `stop`, `exec` and `rm` can find a container
 * from any later ribo command.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerSpec } from '../runtime/bundle.js';
import type { Digest } from '../oci/image.js';
import { RiboError, UsageError } from '../errors.js';
import { withStoreLock } from '../store/index.js';
import { currentProcess, isAlive, processIdentity, startedAtMs, type ProcessIdentity } from '../files/process-identity.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { markTopDir } from '../files/spread-dirs.js';

export type ContainerStatus = 'created' | 'running' | 'exited';

/** Everything needed to start the container, kept so another process (the monitor) can start it. */
export interface ContainerPlan {
  /** Unpacked layer dirs, top-most first. */
  lowers: string[];
  /** The bundle's contents except what is found in the mounted rootfs at start (the user's ids). */
  spec: Omit<ContainerSpec, 'rootfs' | 'uid' | 'gid' | 'additionalGids'>;
  /** USER[:GROUP], resolved in the container's /etc/passwd and /etc/group at start. */
  user?: string;
  /** Keep stdin attached (-i), in the foreground only. */
  interactive?: boolean;
  /** The volumes its mounts include (run/volumes.ts): filled from the image at start, anonymous ones removed with it. */
  volumes?: PlannedVolume[];
  /** Mount sources chowned to the container's user at start (the `U` option). */
  chownPaths?: string[];
  /** --network container:NAME: the id of the container whose network namespace is joined at start. */
  networkContainer?: string;
  /** --group-add: more groups (names resolved in the container's /etc/group at start) for its process and its exec'd ones. */
  groupAdd?: string[];
}

/** A volume as a container's plan keeps it (run/volumes.ts): what start, `rm -v` and `volume rm` need. */
export interface PlannedVolume {
  name: string;
  destination: string;
  anonymous: boolean;
  copyUp: boolean;
}

/** docker's HostConfig.RestartPolicy (`--restart`, run/restart-policy.ts). */
export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure only: how many restarts at most (0: no limit). */
  maximumRetryCount: number;
}

export interface ContainerRecord {
  /** 64 hex digits; the first 12 are the short id `ps` shows. */
  id: string;
  name: string;
  /** The image as the user named it, and its manifest digest. */
  image: string;
  imageDigest: string;
  /**
   * When it was made. A planned run (bin/run-plan.sh) writes null here and in
   * startedAt, and ContainerStore's readers fill both in from the container
   * dir's birth time.
   */
  created: string;
  /** The container's process: ENTRYPOINT + CMD (or the command given). */
  command: string[];
  /** Remove everything when the container exits (`--rm`). */
  autoRemove: boolean;
  detached: boolean;
  /** --stop-signal, else the image's STOPSIGNAL: sent by `ribo stop` (default SIGTERM). */
  stopSignal?: string;
  /** --stop-timeout: the seconds `ribo stop` and `restart` wait before SIGKILL when not given -t (default 10). */
  stopTimeout?: number;
  /** The image's labels, then --label's, as docker keeps them in the container's config (ps --filter label=, inspect). */
  labels?: Record<string, string>;
  /** The storage driver and OCI runtime the container was started with; later commands must use the same. */
  driver: string;
  runtime: string;
  /** The container's name for the OCI runtime (its state under the store's run/). */
  runtimeId: string;
  plan: ContainerPlan;
  status: ContainerStatus;
  /**
   * Made by `ribo create` and not started since (docker's Created state):
   * nothing monitors it, and none is missed, until `ribo start` takes it.
   */
  idle?: boolean;
  /** The process in ribo's namespaces that holds the overlay mount and waits for the container. */
  monitor: ProcessIdentity;
  /**
   * The container's first process, as seen from the host. A planned run
   * (bin/run-plan.sh) records null until the runtime's pid file names it.
   */
  pid?: ProcessIdentity | null;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Why the container did not start or end normally. */
  error?: string;
  /** `--restart` (run/restart-policy.ts); absent is "no". */
  restartPolicy?: RestartPolicy;
  /** How many times the policy restarted it. */
  restartCount?: number;
  /** Set while a process waits to restart it (its monitor then). */
  restarting?: boolean;
  /**
   * A foreground ribo (`run -t`, `start -a` of a terminal) that waits for the
   * exit code of a container conmon monitors: while it lives, conmon's clean-up
   * leaves --rm's removal to it (run/terminal-session.ts).
   */
  waiter?: ProcessIdentity;
}

export class NoSuchContainerError extends RiboError {}
export class ContainerNameInUseError extends UsageError {}

/** How far apart a container's start and its pid file may be (btime is whole seconds, and the clock may have been adjusted since boot). */
const PID_FILE_SLACK_MS = 5000;
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID_PATTERN = /^[0-9a-f]{64}$/;
export const NAME_ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nifty', 'quiet', 'sharp', 'tender', 'vivid', 'witty'];
export const NAME_NOUNS = ['badger', 'crane', 'dingo', 'egret', 'falcon', 'gecko', 'heron', 'ibis', 'koala', 'lemur', 'marten', 'newt', 'otter', 'panda', 'quokka', 'stoat'];

export function shortId(id: string): string {
  return id.slice(0, 12);
}

/**
 * 64 random hex digits whose short form is not all decimal digits: the short
 * id is the container's host name, and the resolver takes an all-digit name
 * for an address and fails on it (`hostname -d` says "Unknown host"), so
 * docker draws again too.
 */
export function newContainerId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    if (/[a-f]/.test(shortId(id))) return id;
  }
}

function randomName(): string {
  const [a, n, d] = randomBytes(3);
  return `${NAME_ADJECTIVES[a! % NAME_ADJECTIVES.length]}_${NAME_NOUNS[n! % NAME_NOUNS.length]}${d! % 100}`;
}

export function validateName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(`Invalid container name "${name}" (from --name): use letters, digits, "_", "." and "-", starting with a letter or digit.`);
  }
}

/** The containers/ directory of one store. */
export class ContainerStore {
  constructor(readonly dir: string) {}

  static ofStore(storeRoot: string): ContainerStore {
    return new ContainerStore(path.join(storeRoot, 'containers'));
  }

  dirOf(id: string): string {
    return path.join(this.dir, id);
  }

  logPath(id: string): string {
    return path.join(this.dirOf(id), 'container.log');
  }

  private statePath(id: string): string {
    return path.join(this.dirOf(id), 'state.json');
  }

  /** containers.lock: held while a new container's record is made (here and in bin/run-plan-record.sh). */
  private get lockPath(): string {
    return `${this.dir}.lock`;
  }

  /**
   * Runs `fn` while no container can be recorded: garbage collection, which
   * reads the records for the layers they use and deletes the rest. A planned
   * run (bin/run-plan-record.sh) takes no in-use lock, only this one, from its
   * check that its layers are there until its record names them.
   */
  async whileNoneRecorded<T>(fn: () => Promise<T>): Promise<T> {
    await writeFile(this.lockPath, '', { flag: 'a' });
    return withStoreLock(this.lockPath, 30, fn);
  }

  /**
   * Creates the record of a new container under a lock, so two `ribo run
   * --name x` at once cannot both get the name.
   */
  async create(fields: Omit<ContainerRecord, 'id' | 'name' | 'created' | 'status' | 'monitor' | 'runtimeId'> & { name?: string }): Promise<ContainerRecord> {
    if (fields.name !== undefined) validateName(fields.name);
    // Each container's dir in a block group of its own, away from those just removed (files/spread-dirs.ts).
    if (await mkdir(this.dir, { recursive: true })) await markTopDir(this.dir);
    return this.whileNoneRecorded(async () => {
      const records = await this.list();
      const names = new Set(records.map((r) => r.name));
      if (fields.name !== undefined && names.has(fields.name)) {
        const holder = records.find((r) => r.name === fields.name)!;
        throw new ContainerNameInUseError(
          `The container name "${fields.name}" is already in use by container ${shortId(holder.id)} (${holder.status}). Remove it first (ribo rm ${holder.status === 'running' ? '-f ' : ''}${fields.name}) or choose another --name.`,
        );
      }
      let name = fields.name ?? randomName();
      while (names.has(name)) name = randomName();
      const id = newContainerId();
      const record: ContainerRecord = {
        ...fields,
        id,
        name,
        created: new Date().toISOString(),
        status: 'created',
        monitor: currentProcess(),
        runtimeId: `ribo-${shortId(id)}`,
      };
      await mkdir(this.dirOf(id));
      await this.write(record);
      return record;
    });
  }

  /** Replaces the record atomically (temp file + rename): readers never see half of one. */
  async write(record: ContainerRecord): Promise<void> {
    // 0600: the record holds the container's env (-e secrets).
    await writeFileAtomic(this.statePath(record.id), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  }

  async update(id: string, change: Partial<ContainerRecord>): Promise<ContainerRecord> {
    const record = { ...(await this.read(id)), ...change };
    await this.write(record);
    return record;
  }

  /** A record as a planned run (bin/run-plan.sh) left it, with what it leaves out filled in. */
  private async completed(record: ContainerRecord): Promise<ContainerRecord> {
    return this.withPid(await this.withTimes(record));
  }

  /**
   * A planned run's times: when its dir was made (its birth time; where the
   * file system keeps none, the record's write time), which is when it made
   * the container and, within milliseconds, started it.
   */
  private async withTimes(record: ContainerRecord): Promise<ContainerRecord> {
    if (record.created !== null) return record;
    const born = await stat(this.dirOf(record.id)).then((s) => s.birthtimeMs, () => 0);
    // Gone since it was read (removed): now is as good a time as any for a record no one will see again.
    const written = born > 0 ? born : await stat(this.statePath(record.id)).then((s) => s.mtimeMs, () => Date.now());
    const time = new Date(written).toISOString();
    return { ...record, created: time, startedAt: record.startedAt ?? time };
  }

  /**
   * A container started by a planned run (bin/run-plan.sh) is recorded
   * before its process exists; the runtime's pid file names the process.
   * Once the monitor is gone (killed), the pid may have been reused: then only
   * a process that started when the runtime wrote the file is the container.
   */
  private async withPid(record: ContainerRecord): Promise<ContainerRecord> {
    if (record.status !== 'running' || record.pid) return record;
    const pidFile = path.join(this.dirOf(record.id), 'container.pid');
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    const identity = pid > 0 ? processIdentity(pid) : undefined;
    if (!identity) return record;
    if (!isAlive(record.monitor)) {
      const written = await stat(pidFile).then((s) => s.mtimeMs, () => undefined);
      const started = startedAtMs(identity);
      if (written === undefined || started === undefined || Math.abs(started - written) > PID_FILE_SLACK_MS) return record;
    }
    return { ...record, pid: identity };
  }

  async read(id: string): Promise<ContainerRecord> {
    let record: ContainerRecord;
    try {
      record = JSON.parse(await readFile(this.statePath(id), 'utf8')) as ContainerRecord;
    } catch (error) {
      throw new NoSuchContainerError(`No such container: ${id} (its record ${this.statePath(id)} is missing or unreadable: ${(error as Error).message}).`);
    }
    return this.completed(record);
  }

  /** Every container with a readable record, oldest first. */
  async list(): Promise<ContainerRecord[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const records: ContainerRecord[] = [];
    for (const name of names.filter((n) => ID_PATTERN.test(n))) {
      const text = await readFile(this.statePath(name), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      try {
        records.push(await this.completed(JSON.parse(text) as ContainerRecord));
      } catch {
        // a record being replaced right now; the rename makes this rare and harmless
      }
    }
    return records.sort((a, b) => a.created.localeCompare(b.created));
  }

  /** Finds a container by name, full id or unique id prefix, as docker does. */
  async find(nameOrId: string): Promise<ContainerRecord> {
    const found = await this.lookup(nameOrId);
    if (!found) throw new NoSuchContainerError(`No such container: ${nameOrId}. \`ribo ps -a\` lists the containers of this store.`);
    return found;
  }

  /** Like find, but undefined when nothing matches (ambiguous prefixes are still an error). */
  async lookup(nameOrId: string): Promise<ContainerRecord | undefined> {
    const records = await this.list();
    const exact = records.find((r) => r.id === nameOrId || r.name === nameOrId);
    if (exact) return exact;
    if (!/^[0-9a-f]+$/.test(nameOrId)) return undefined;
    const matches = records.filter((r) => r.id.startsWith(nameOrId));
    if (matches.length > 1) {
      throw new UsageError(`The id prefix ${nameOrId} matches ${matches.length} containers (${matches.map((r) => shortId(r.id)).join(', ')}); give more of the id, or the name.`);
    }
    return matches[0];
  }
}

/** True while the record's container may still be running: its monitor process is alive. */
export function monitorAlive(record: ContainerRecord): boolean {
  return record.status !== 'exited' && !record.idle && isAlive(record.monitor);
}

/** True when the record's monitor died before it recorded the end: what recoverContainer cleans up after (never a container ribo create left idle). */
export function monitorLost(record: ContainerRecord): boolean {
  return record.status !== 'exited' && !record.idle && !isAlive(record.monitor);
}

/**
 * The diffIDs of the unpacked layers containers use as lower dirs, running
 * or kept: `ribo prune` must not delete them.
 */
export async function containerLayers(storeRoot: string): Promise<Set<Digest>> {
  const layers = new Set<Digest>();
  for (const record of await ContainerStore.ofStore(storeRoot).list()) {
    for (const lower of record.plan.lowers) layers.add(`sha256:${path.basename(lower)}` as Digest);
  }
  return layers;
}

/** The manifest digests of the images containers were made from: `ribo prune` keeps them. */
export async function containerImages(storeRoot: string): Promise<Digest[]> {
  const digests = new Set<Digest>();
  for (const record of await ContainerStore.ofStore(storeRoot).list()) digests.add(record.imageDigest as Digest);
  return [...digests];
}
