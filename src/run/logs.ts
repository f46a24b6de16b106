/**
 * Container logs: one JSON object a line, `{"log": TEXT, "stream": "stdout" |
 * "stderr", "time": ISO}` (the layout of Docker's json-file driver), so
 * `ribo logs` can give each line back on the stream it came from, in order.
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
      let entry: LogEntry;
      try {
        entry = JSON.parse(line) as LogEntry;
      } catch {
        continue; // not a log line
      }
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
  const later = { timestamps: options.timestamps };
  for (;;) {
    const stillRunning = await running();
    position = await copyLog(file, position, out, err, later);
    if (!stillRunning) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
