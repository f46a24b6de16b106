/**
 * `ribo attach`: the output of a running detached container, live, until it
 * exits (then ribo exits with its code, as docker attach) or the detach keys
 * (ctrl-p ctrl-q) are typed. conmon writes everything the container prints
 * to the container's log, so ribo follows that; its attach socket is a
 * SOCK_SEQPACKET socket, which Node.js cannot connect to. Input (a container
 * run with -di) goes straight into the pipe conmon holds for the container's
 * stdin, opened again through /proc; a terminal's input (-dit) cannot be
 * reached that way (opening conmon's pty master again makes a new pty). A
 * container with a terminal (-dt) gets the caller's terminal size through
 * conmon's resize FIFO (`winsz` in the bundle).
 */
import { constants, openSync, writeSync, closeSync, createWriteStream } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { callerTerminalSize } from '../runtime/terminal.js';
import { monitorAlive, type ContainerRecord, type ContainerStore } from './containers.js';
import { followLog } from './logs.js';

/** ctrl-p ctrl-q, docker's default detach keys. */
const DETACH_KEYS = Buffer.from([0x10, 0x11]);

/** conmon's resize message: `1 ROWS COLUMNS` (1 = a window resize) on the bundle's winsz FIFO. */
function resizeThroughConmon(bundleDir: string): void {
  const size = callerTerminalSize();
  if (!size) return;
  try {
    const fd = openSync(path.join(bundleDir, 'winsz'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, `1 ${size.rows} ${size.columns}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // no conmon FIFO (a container without conmon): nothing to resize
  }
}

/**
 * The write end of the container's stdin pipe, as conmon holds it, opened
 * again through /proc; undefined when there is none (no -i, a terminal).
 */
async function openContainerStdin(record: ContainerRecord): Promise<NodeJS.WritableStream | undefined> {
  if (!record.plan.interactive || record.plan.spec.terminal || !record.pid) return undefined;
  const stdinPipe = await readlink(`/proc/${record.pid.pid}/fd/0`).catch(() => '');
  if (!stdinPipe.startsWith('pipe:')) return undefined;
  const monitorFds = `/proc/${record.monitor.pid}/fd`;
  for (const fd of await readdir(monitorFds).catch(() => [] as string[])) {
    if ((await readlink(`${monitorFds}/${fd}`).catch(() => '')) !== stdinPipe) continue;
    const flags = /^flags:\s+(\d+)/m.exec(await readFile(`/proc/${record.monitor.pid}/fdinfo/${fd}`, 'utf8').catch(() => ''));
    // O_WRONLY (octal flags): conmon's end for writing.
    if (!flags || (Number.parseInt(flags[1]!, 8) & 3) !== constants.O_WRONLY) continue;
    try {
      const stream = createWriteStream('', { fd: openSync(`${monitorFds}/${fd}`, constants.O_WRONLY) });
      stream.on('error', () => undefined); // the container closed its stdin or exited
      return stream;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Watches stdin for the detach keys; resolves when they are typed. Returns a stop function too. */
function detachKeys(input?: NodeJS.WritableStream): { typed: Promise<void>; stop: () => void } {
  const stdin = process.stdin;
  let resolveTyped: () => void = () => undefined;
  const typed = new Promise<void>((resolve) => (resolveTyped = resolve));
  let previous = -1;
  let detaching = false;
  const onData = (chunk: Buffer) => {
    for (const byte of chunk) {
      if (previous === DETACH_KEYS[0] && byte === DETACH_KEYS[1]) {
        detaching = true;
        resolveTyped();
      }
      previous = byte;
    }
    // What comes with the detach keys is not the container's.
    if (!detaching) input?.write(chunk);
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('error', () => undefined);
  return {
    typed,
    stop: () => {
      stdin.off('data', onData);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      stdin.unref?.();
      input?.end();
    },
  };
}

/** Attaches to `record`'s output; resolves with the exit code to leave with (the container's, or 0 on detach). */
export async function attachToContainer(containers: ContainerStore, record: ContainerRecord): Promise<number> {
  if (!monitorAlive(record) || record.status !== 'running') {
    throw new UsageError(`Container ${record.name} is not running (${record.status}); start it first (ribo start ${record.name}), or read its output with ribo logs ${record.name}.`);
  }
  const bundleDir = path.join(containers.dirOf(record.id), 'bundle');
  const onResize = () => setImmediate(() => resizeThroughConmon(bundleDir));
  if (record.plan.spec.terminal) {
    resizeThroughConmon(bundleDir);
    process.on('SIGWINCH', onResize);
  }
  const keys = detachKeys(await openContainerStdin(record));
  let detached = false;
  void keys.typed.then(() => (detached = true));
  try {
    // From what is written from now on: `ribo logs` is for the past.
    const fromNow = { sinceMs: Date.now() - 1 };
    await followLog(containers.logPath(record.id), process.stdout, process.stderr, async () => {
      if (detached) return false;
      const current = await containers.read(record.id).catch(() => undefined);
      return current !== undefined && monitorAlive(current);
    }, fromNow, 50);
  } finally {
    keys.stop();
    process.off('SIGWINCH', onResize);
  }
  if (detached) return 0;
  const finished = await containers.read(record.id).catch(() => undefined);
  return finished?.exitCode ?? 0;
}
