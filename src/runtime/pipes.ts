/**
 * Pipes for a container's stdout and stderr. Node's own child pipes are
 * socket pairs, and a socket cannot be opened again through /proc: a
 * program writing to `/dev/stdout` or `/dev/stderr` (nginx's log links,
 * many entrypoint scripts) fails with ENXIO. Docker gives containers pipes;
 * so does ribo, from a FIFO made in a directory of the caller's and unlinked
 * once both ends are open (Node has no pipe(2)).
 */
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

export interface OutputPipe {
  /** The write end, for the child; close it in the parent once the child has it. */
  writeFd: number;
  /** The read end: ends when every writer (the container and its children) has closed it. */
  reader: net.Socket;
}

/** Makes `count` pipes through FIFOs in `dir`, with one mkfifo(1) for all. */
export async function openOutputPipes(dir: string, count: number): Promise<OutputPipe[]> {
  const tag = randomBytes(4).toString('hex');
  const names = Array.from({ length: count }, (_, i) => path.join(dir, `.pipe-${tag}-${i}`));
  await execa('mkfifo', ['-m', '0600', ...names]);
  const pipes: OutputPipe[] = [];
  try {
    for (const name of names) {
      // The read end first, non-blocking, so opening the write end does not wait.
      const readFd = openSync(name, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeFd = openSync(name, constants.O_WRONLY);
      pipes.push({ writeFd, reader: new net.Socket({ fd: readFd, readable: true, writable: false }) });
    }
  } catch (error) {
    closeOutputPipes(pipes);
    throw error;
  } finally {
    for (const name of names) {
      try {
        unlinkSync(name);
      } catch {
        // already gone
      }
    }
  }
  return pipes;
}

/** Closes the parent's write ends (after the child started), so the readers end with the child. */
export function closeWriteEnds(pipes: OutputPipe[]): void {
  for (const pipe of pipes) {
    if (pipe.writeFd >= 0) closeSync(pipe.writeFd);
    pipe.writeFd = -1;
  }
}

function closeOutputPipes(pipes: OutputPipe[]): void {
  closeWriteEnds(pipes);
  for (const pipe of pipes) pipe.reader.destroy();
}

/** How long a pipe may stay silent after the process exited before ribo stops reading it. */
const IDLE_AFTER_EXIT_MS = 1000;

export interface PipeCopy {
  /** Settles when the pipe ended (or was given up) and what came through was written to `out`. */
  done: Promise<void>;
  /**
   * The process exited: a pipe still open after that is held by something it
   * left running (an exec'd daemon); it is read until it stays idle a while.
   */
  processExited(): void;
  /** The last bytes that came through (for a runtime's last word on stderr). */
  tail(): string;
}

const TAIL_BYTES = 512;

/** Copies a pipe's data into `out` (not ending it), with backpressure. */
export function copyOutput(pipe: OutputPipe, out: NodeJS.WritableStream): PipeCopy {
  let idle: NodeJS.Timeout | undefined;
  let exited = false;
  let closed = false;
  let tail = Buffer.alloc(0);
  const armIdle = () => {
    // Often the pipe has closed before the process's exit is seen: a timer then would only keep Node alive for nothing.
    if (!exited || closed) return;
    clearTimeout(idle);
    idle = setTimeout(() => pipe.reader.destroy(), IDLE_AFTER_EXIT_MS);
  };
  const done = new Promise<void>((resolve) => {
    pipe.reader.on('data', (chunk: Buffer) => {
      armIdle();
      tail = Buffer.concat([tail, chunk]).subarray(-TAIL_BYTES);
      if (!out.write(chunk)) {
        pipe.reader.pause();
        out.once('drain', () => pipe.reader.resume());
      }
    });
    pipe.reader.once('close', () => {
      closed = true;
      clearTimeout(idle);
      resolve();
    });
    pipe.reader.once('error', () => undefined);
  });
  return {
    done,
    processExited: () => {
      exited = true;
      armIdle();
    },
    tail: () => tail.toString('utf8'),
  };
}
