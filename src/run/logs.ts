/**
 * Container logs: one JSON object a line, `{"log": TEXT, "stream": "stdout" |
 * "stderr", "time": ISO}` (the layout of Docker's json-file driver), so
 * `ribo logs` can give each line back on the stream it came from, in order.
 * A container under conmon (detached) has conmon write the same file in the
 * k8s-file layout, `TIME STREAM F|P TEXT`; `ribo logs` reads both.
 */
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export type LogStream = 'stdout' | 'stderr';

interface LogEntry {
  log: string;
  stream: LogStream;
  time: string;
}

/** Appends both streams of a container to one log file. */
export class LogWriter {
  private constructor(private readonly handle: FileHandle) {}

  static async open(file: string): Promise<LogWriter> {
    return new LogWriter(await open(file, 'a', 0o600));
  }

  /** A stream that logs what is written to it as `stream`, a line per entry; `copy` also gets the bytes. */
  stream(stream: LogStream, copy?: NodeJS.WritableStream): Writable {
    let pending = '';
    const decoder = new StringDecoder('utf8');
    const writeLines = async (text: string, flush: boolean) => {
      pending += text;
      const lines = pending.split(/(?<=\n)/);
      pending = flush || lines.at(-1)!.endsWith('\n') ? '' : lines.pop()!;
      if (lines.length === 0 || (lines.length === 1 && lines[0] === '')) return;
      const time = new Date().toISOString();
      const entries = lines.filter(Boolean).map((log) => `${JSON.stringify({ log, stream, time } satisfies LogEntry)}\n`);
      await this.handle.write(entries.join(''));
    };
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        copy?.write(chunk);
        writeLines(decoder.write(chunk), false).then(() => callback(), callback);
      },
      final: (callback) => {
        writeLines(decoder.end(), true).then(() => callback(), callback);
      },
    });
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export interface LogOptions {
  /** Prefix each line with the time it was written (RFC 3339, as docker logs -t). */
  timestamps?: boolean;
  /** Only the last N lines of what is there now. */
  tail?: number;
  /** Only lines written at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only lines written at or before this time (ms since the epoch); `-f` stops there. */
  untilMs?: number;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A --since/--until value as docker reads it: a duration back from `now`
 * (`10m`, `1h30m`), Unix seconds (`1700000000`, `1700000000.5`), or a date
 * and time (RFC 3339, `2026-11-23`, `2026-11-23T14:00:00`, taken as UTC
 * without a zone). Undefined when it is none of those.
 */
export function parseLogTime(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(text)) {
    let ms = 0;
    for (const [, amount, unit] of text.matchAll(DURATION_PART)) ms += Number(amount) * UNIT_MS[unit!]!;
    return now - ms;
  }
  if (!/^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?(Z|[+-]\d\d:?\d\d)?$/i.test(text)) return undefined;
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) || !/[T ]/.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** conmon's k8s-file lines: `TIME STREAM F|P TEXT`, P for part of a line continued in the next entry. */
const K8S_FILE_LINE = /^(\S+) (stdout|stderr) ([FP])(?: ([\s\S]*))?$/;

/** One entry of a log written by ribo (JSON) or by conmon (k8s-file); undefined for anything else. */
export function parseLogLine(line: string): LogEntry | undefined {
  if (line.startsWith('{')) {
    try {
      return JSON.parse(line) as LogEntry;
    } catch {
      return undefined;
    }
  }
  const match = K8S_FILE_LINE.exec(line);
  if (!match) return undefined;
  return { time: match[1]!.replace(/\+00:00$/, 'Z'), stream: match[2] as LogStream, log: `${match[4] ?? ''}${match[3] === 'F' ? '\n' : ''}` };
}

/** Writes the log's entries from byte `start` to `out`/`err`; returns where the last complete line ended. */
export async function copyLog(file: string, start: number, out: NodeJS.WritableStream, err: NodeJS.WritableStream, options: LogOptions = {}): Promise<number> {
  const size = await stat(file).then((s) => s.size, () => 0);
  if (size <= start) return start;
  let position = start;
  let rest = '';
  // With a tail only the last N entries are held, never the whole log.
  const kept: LogEntry[] = [];
  const emit = (entry: LogEntry) => (entry.stream === 'stderr' ? err : out).write(options.timestamps ? `${entry.time} ${entry.log}` : entry.log);
  for await (const chunk of createReadStream(file, { start, end: size - 1, encoding: 'utf8' })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      position += Buffer.byteLength(line) + 1;
      if (!line) continue;
      const entry = parseLogLine(line);
      if (!entry) continue; // not a log line
      const time = Date.parse(entry.time);
      if (options.sinceMs !== undefined && time < options.sinceMs) continue;
      if (options.untilMs !== undefined && time > options.untilMs) continue;
      if (options.tail === undefined) emit(entry);
      else {
        kept.push(entry);
        if (kept.length > options.tail) kept.shift();
      }
    }
  }
  for (const entry of kept) emit(entry);
  return position;
}

/**
 * Writes the log (or its tail), then, while `running()` says the container
 * runs, keeps writing what is appended (`ribo logs -f`).
 */
export async function followLog(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream, running: () => Promise<boolean>, options: LogOptions = {}, pollMs = 100): Promise<void> {
  let position = await copyLog(file, 0, out, err, options);
  const later = { timestamps: options.timestamps, sinceMs: options.sinceMs, untilMs: options.untilMs };
  for (;;) {
    const stillRunning = await running();
    position = await copyLog(file, position, out, err, later);
    if (!stillRunning || (options.untilMs !== undefined && Date.now() > options.untilMs)) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
