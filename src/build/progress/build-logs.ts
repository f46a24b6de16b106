import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RiboError } from '../../errors.js';
import type { BuildEvent, BuildReporter } from './events.js';

/** How many builds' logs the store keeps; older ones are removed when a build starts. */
export const KEPT_BUILDS = 20;

/** A build's id: when it started (so ids sort by age) and a random part (so two builds in one second differ). */
export function newBuildId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

const ID_PATTERN = /^\d{8}-\d{6}-[0-9a-f]{4}$/;
/** `YYYYMMDD-HHMMSS`: the part of an id that says when its build started. */
const ID_SECOND_LENGTH = 15;

export class NoSuchBuildLogError extends RiboError {}

/**
 * The logs of recent builds, under the store's `builds/<build-id>/`:
 * `events.jsonl` holds the build's progress events (without the output) and
 * `<step>.log` the whole output of each step that printed something.
 */
export class BuildLogs {
  readonly dir: string;

  constructor(storeRoot: string) {
    this.dir = path.join(storeRoot, 'builds');
  }

  /** Starts keeping the log of build `id`, removing the oldest logs beyond KEPT_BUILDS. */
  async record(id: string): Promise<BuildLogRecorder> {
    const dir = path.join(this.dir, id);
    await mkdir(dir, { recursive: true });
    const ids = await this.ids();
    for (const old of ids.slice(0, Math.max(0, ids.length - KEPT_BUILDS))) {
      await rm(path.join(this.dir, old), { recursive: true, force: true });
    }
    return new BuildLogRecorder(dir);
  }

  /**
   * Ids of the kept builds, oldest first. Ids give the start to the second; builds
   * started in the same second are ordered by when their log directory was made.
   */
  async ids(): Promise<string[]> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => ID_PATTERN.test(n)).sort();
    const second = (id: string) => id.slice(0, ID_SECOND_LENGTH);
    const made = new Map<string, number>();
    for (const [i, id] of names.entries()) {
      if (second(id) !== second(names[i - 1] ?? '') && second(id) !== second(names[i + 1] ?? '')) continue;
      const info = await stat(path.join(this.dir, id)).catch(() => undefined);
      // Birth time where the filesystem records it; else the last change, which keeps builds run one after another in order.
      made.set(id, info ? info.birthtimeMs || info.ctimeMs : 0);
    }
    if (made.size === 0) return names;
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return names.sort((a, b) => (second(a) === second(b) ? made.get(a)! - made.get(b)! || byName(a, b) : byName(a, b)));
  }

  /** The build a user named: an id, a unique prefix of one, or none for the latest. */
  async resolve(id: string | undefined): Promise<string> {
    const ids = await this.ids();
    if (ids.length === 0) throw new NoSuchBuildLogError(`No build logs are kept in ${this.dir}; they are written by ribo build (the last ${KEPT_BUILDS} builds are kept).`);
    if (id === undefined) return ids[ids.length - 1]!;
    const matches = ids.filter((candidate) => candidate.startsWith(id));
    if (matches.length === 1) return matches[0]!;
    const known = `The kept builds are listed by \`ribo build-log --list\`.`;
    if (matches.length === 0) throw new NoSuchBuildLogError(`No kept build log has the id "${id}". ${known}`);
    throw new NoSuchBuildLogError(`"${id}" is the start of several build ids (${matches.join(', ')}); give more of it. ${known}`);
  }

  /** The progress events of a build, as recorded (step output left out). */
  async events(id: string): Promise<BuildEvent[]> {
    const text = await readFile(path.join(this.dir, id, 'events.jsonl'), 'utf8').catch(() => '');
    // A build that was killed may have left half a line at the end.
    return text.split('\n').flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as BuildEvent] : [];
      } catch {
        return [];
      }
    });
  }

  /** The whole output of one step; empty when the step printed nothing. */
  async stepLog(id: string, step: number): Promise<Readable | undefined> {
    const file = path.join(this.dir, id, `${step}.log`);
    if (!(await stat(file).catch(() => undefined))) return undefined;
    return createReadStream(file);
  }
}

/** A reporter that writes a build's events and each step's output into its log directory. */
export class BuildLogRecorder implements BuildReporter {
  private readonly events: WriteStream;
  private readonly stepLogs = new Map<number, WriteStream>();
  private readonly open = new Set<WriteStream>();
  /** The first write error, if any: the log is incomplete, the build is not affected. */
  error: Error | undefined;
  /** The step that failed, for pointing the user at its log. */
  failedStep: number | undefined;

  constructor(readonly dir: string) {
    this.events = this.stream(path.join(dir, 'events.jsonl'));
  }

  get id(): string {
    return path.basename(this.dir);
  }

  report(event: BuildEvent): void {
    if (event.type === 'step-log') {
      let log = this.stepLogs.get(event.step);
      if (!log) this.stepLogs.set(event.step, (log = this.stream(path.join(this.dir, `${event.step}.log`))));
      log.write(event.data);
      return;
    }
    this.events.write(`${JSON.stringify(event)}\n`);
    if (event.type === 'step-done' || event.type === 'step-failed') {
      this.stepLogs.get(event.step)?.end();
      this.stepLogs.delete(event.step);
    }
    if (event.type === 'step-failed') this.failedStep = event.step;
  }

  drained(): Promise<void> | undefined {
    const backedUp = [...this.stepLogs.values()].filter((stream) => stream.writableNeedDrain);
    if (backedUp.length === 0) return undefined;
    // A stream that fails never drains; it closes, and its error is kept.
    const waitFor = (stream: WriteStream) =>
      new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('close', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
      });
    return Promise.all(backedUp.map(waitFor)).then(() => undefined);
  }

  /** Finishes every file; resolves when they are written. */
  async close(): Promise<void> {
    for (const stream of [...this.stepLogs.values(), this.events]) stream.end();
    this.stepLogs.clear();
    await Promise.all([...this.open].map((stream) => new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())))));
  }

  private stream(file: string): WriteStream {
    // 0600: a step's output may print build secrets or args.
    const stream = createWriteStream(file, { mode: 0o600 });
    this.open.add(stream);
    stream.on('error', (error) => {
      this.error ??= error;
    });
    return stream;
  }
}
