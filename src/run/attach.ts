/**
 * `ribo attach`: a running detached container's output, live, until it
 * exits (then ribo exits with its code, as docker attach) or the detach keys
 * (ctrl-p ctrl-q) are typed. A container under conmon is reached through
 * conmon's attach socket (runtime/conmon-attach.ts), as podman attaches:
 * output as the container writes it, stdout and stderr apart, and ribo's
 * input to the container's stdin or terminal when it was run with -i. A
 * container with a terminal (-dt) gets the caller's terminal size through
 * conmon's control FIFO (`ctl` in the bundle) and follows its resizes.
 *
 * Containers kept by ribo's own monitor (when conmon is not installed)
 * have no socket, and without socat the socket is out of reach: then the
 * log is followed, and no input is passed.
 */
import { constants, openSync, writeSync, closeSync } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { attachThroughSocket } from '../runtime/conmon-attach.js';
import { findExecutable } from '../files/executables.js';
import { callerTerminalSize } from '../runtime/terminal.js';
import { attachSocketPath } from './conmon-monitor.js';
import { monitorAlive, type ContainerRecord, type ContainerStore } from './containers.js';
import { followLog } from './logs.js';
import { conmonRecordedExit } from './conmon-files.js';
import { UNKNOWN_EXIT_CODE } from './lifecycle.js';

/** ctrl-p ctrl-q, docker's default detach keys. */
const DETACH_KEYS = Buffer.from([0x10, 0x11]);

/** conmon's resize message: `1 ROWS COLUMNS` (1 = a window resize) on the bundle's ctl FIFO (winsz is conmon's own, `ROWS COLUMNS`). */
export function resizeThroughConmon(bundleDir: string): void {
  const size = callerTerminalSize();
  if (!size) return;
  try {
    const fd = openSync(path.join(bundleDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
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
export function detachKeys(input?: NodeJS.WritableStream): { typed: Promise<void>; stop: () => void } {
  const stdin = process.stdin;
  let resolveTyped: () => void = () => undefined;
  const typed = new Promise<void>((resolve) => (resolveTyped = resolve));
  let previous = -1;
  let detaching = false;
  let held = false;
  const onData = (chunk: Buffer) => {
    if (detaching) return;
    for (const byte of chunk) {
      if (previous === DETACH_KEYS[0] && byte === DETACH_KEYS[1]) {
        detaching = true;
        resolveTyped();
        return; // what comes with the detach keys is not the container's
      }
      previous = byte;
    }
    // A ctrl-p held back at the end of the last chunk goes on now that no ctrl-q followed it.
    const heldBack = held;
    held = chunk.at(-1) === DETACH_KEYS[0];
    const send = Buffer.concat([heldBack ? DETACH_KEYS.subarray(0, 1) : Buffer.alloc(0), held ? chunk.subarray(0, -1) : chunk]);
    if (send.length > 0) input?.write(send);
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

/** Attaches to `record`; resolves with the exit code to leave with (the container's, or 0 on detach). */
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
  try {
    const throughSocket = (await access(attachSocketPath(containers, record)).then(() => true, () => false)) && (await findExecutable('socat')) !== undefined;
    const detached = throughSocket ? await attachToSocket(bundleDir, record) : await followOutput(containers, record);
    if (detached) return 0;
  } finally {
    process.off('SIGWINCH', onResize);
  }
  const exited = await exitedRecord(containers, record);
  if (!exited) return 0; // removed (--rm) by its clean-up
  return exitCodeOf(containers, exited);
}

/** The exit code of a container whose monitor ended: recorded by its clean-up, else the one conmon wrote (a clean-up that did not finish). */
export async function exitCodeOf(containers: ContainerStore, exited: ContainerRecord): Promise<number> {
  const code = exited.status === 'exited' ? exited.exitCode : await conmonRecordedExit(containers, exited);
  return code ?? UNKNOWN_EXIT_CODE;
}

/** Output and input through conmon's socket; true when the detach keys ended it. */
async function attachToSocket(bundleDir: string, record: ContainerRecord): Promise<boolean> {
  const session = await attachThroughSocket(bundleDir, process.stdout, process.stderr, record.plan.interactive === true);
  const keys = detachKeys(session.input);
  try {
    const how = await Promise.race([session.ended.then(() => 'ended' as const), keys.typed.then(() => 'detached' as const)]);
    if (how === 'detached') session.close();
    return how === 'detached';
  } finally {
    keys.stop();
  }
}

/** Output from the log, for a container without conmon; true when the detach keys ended it. */
async function followOutput(containers: ContainerStore, record: ContainerRecord): Promise<boolean> {
  const keys = detachKeys();
  let detached = false;
  void keys.typed.then(() => (detached = true));
  try {
    // From what is written from now on: `ribo logs` is for the past.
    await followLog(containers.logPath(record.id), process.stdout, process.stderr, async () => {
      if (detached) return false;
      const current = await containers.read(record.id).catch(() => undefined);
      return current !== undefined && monitorAlive(current);
    }, { sinceMs: Date.now() - 1 }, 50);
  } finally {
    keys.stop();
  }
  return detached;
}

/** The record once the container's exit is recorded (conmon closes the socket just before its clean-up has run). */
export async function exitedRecord(containers: ContainerStore, record: ContainerRecord): Promise<ContainerRecord | undefined> {
  for (let waited = 0; ; waited += 50) {
    const current = await containers.read(record.id).catch(() => undefined);
    if (!current || current.status === 'exited' || waited > 60_000) return current;
    // conmon ends only after its clean-up recorded the exit, so a record read
    // just before it ended may be stale: read once more now that it is gone.
    if (!monitorAlive(current)) return containers.read(record.id).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
