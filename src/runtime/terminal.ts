/**
 * The container's terminal (-t) keeps the size of ribo's own. The runtime
 * makes the pty and relays it; crun never sizes it (0×0, which busybox's
 * stty refuses) and neither follows a resize at once. Docker sets the size
 * at start and on every SIGWINCH; ribo does the same by setting the size on
 * the container's end of the pty, reached through /proc as the container's
 * first process has it open (the kernel then sends that process group its
 * SIGWINCH). Node has no ioctl, so stty(1) does it.
 */
import { readlink } from 'node:fs/promises';
import { execa } from 'execa';

export interface TerminalSize {
  rows: number;
  columns: number;
}

/** A terminal's size when no client gives one: 80×24, as docker's. */
export const DEFAULT_TERMINAL_SIZE: TerminalSize = { rows: 24, columns: 80 };

/** The OCI spec's `consoleSize` for `size`. */
export function consoleSizeOf(size: TerminalSize): { height: number; width: number } {
  return { height: size.rows, width: size.columns };
}

/** The size of ribo's terminal, when its stdout (or stderr) is one. */
export function callerTerminalSize(): TerminalSize | undefined {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.isTTY && stream.rows > 0 && stream.columns > 0) return { rows: stream.rows, columns: stream.columns };
  }
  return undefined;
}

/** The path under /proc of a pty end `pid` has open as stdin, stdout or stderr. */
async function ptyOf(pid: number): Promise<string | undefined> {
  for (const fd of [0, 1, 2]) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (/^\/dev\/(pts\/\d+|console)$/.test(target)) return `/proc/${pid}/fd/${fd}`;
  }
  return undefined;
}

/** Sets the size of the terminal `pid` runs on; false when it has none or it is gone. */
export async function resizeTerminalOf(pid: number, size: TerminalSize): Promise<boolean> {
  const pty = await ptyOf(pid);
  if (!pty) return false;
  const result = await execa('stty', ['-F', pty, 'rows', String(size.rows), 'cols', String(size.columns)], { reject: false });
  return result.exitCode === 0;
}

/**
 * Gives the terminal of `pid` ribo's size now and after every resize of
 * ribo's terminal (SIGWINCH); returns the function that stops following.
 */
export function followTerminalSize(pid: number): () => void {
  let busy = Promise.resolve();
  const resize = () => {
    const size = callerTerminalSize();
    if (size) busy = busy.then(() => resizeTerminalOf(pid, size)).then(() => undefined, () => undefined);
  };
  const onResize = () => {
    // Node updates columns/rows on its own SIGWINCH handler; read them after it ran.
    setImmediate(resize);
  };
  process.on('SIGWINCH', onResize);
  resize();
  return () => process.off('SIGWINCH', onResize);
}
