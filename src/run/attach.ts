/**
 * `ribo attach`: the output of a running detached container, live, until it
 * exits (then ribo exits with its code, as docker attach) or the detach keys
 * (ctrl-p ctrl-q) are typed. conmon writes everything the container prints
 * to the container's log, so ribo follows that; its attach socket is a
 * SOCK_SEQPACKET socket, which Node.js cannot connect to, so input is not
 * passed on. A container with a terminal (-dt) gets the caller's terminal
 * size through conmon's resize FIFO (`winsz` in the bundle).
 */
import { constants, openSync, writeSync, closeSync } from 'node:fs';
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

/** Watches stdin for the detach keys; resolves when they are typed. Returns a stop function too. */
function detachKeys(): { typed: Promise<void>; stop: () => void } {
  const stdin = process.stdin;
  let resolveTyped: () => void = () => undefined;
  const typed = new Promise<void>((resolve) => (resolveTyped = resolve));
  let previous = -1;
  const onData = (chunk: Buffer) => {
    for (const byte of chunk) {
      if (previous === DETACH_KEYS[0] && byte === DETACH_KEYS[1]) resolveTyped();
      previous = byte;
    }
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
  const keys = detachKeys();
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
