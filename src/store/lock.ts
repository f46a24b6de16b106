import { spawn } from 'node:child_process';
import { RiboError } from '../errors.js';
import { StoreLockTimeoutError } from './errors.js';

/*
 * Store locks are kernel flock(2) locks, each held by a `flock` child process
 * for as long as it is needed. Node cannot call flock itself, and a lock file
 * with a pid inside needs stale-lock breaking, which races when several
 * processes find the same stale lock. A kernel lock has no stale state: when
 * we exit or are killed, the child's stdin closes, `cat` ends, the child
 * exits and the kernel drops the lock.
 */

const CONFLICT_EXIT = 75;
const READY = 'locked\n';

export type LockMode = 'shared' | 'exclusive';

export interface HeldLock {
  release(): Promise<void>;
}

/** Takes a flock on `lockPath`, waiting at most `timeoutSeconds`. */
export async function acquireLock(
  lockPath: string,
  mode: LockMode,
  timeoutSeconds: number,
  options: { describeTimeout?: (seconds: number) => RiboError; background?: boolean } = {},
): Promise<HeldLock> {
  const child = spawn(
    'flock',
    [`--${mode}`, '--wait', String(timeoutSeconds), '--conflict-exit-code', String(CONFLICT_EXIT), lockPath,
      'sh', '-c', `printf '${READY.trim()}\\n'; exec cat >/dev/null`],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));

  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (stdout.startsWith(READY)) resolve();
    });
    child.once('error', (error) =>
      reject(new RiboError(`Could not run \`flock\` to lock the image store (${error.message}). Install util-linux, which provides it.`, { cause: error })),
    );
    void exited.then((code) => {
      if (code === CONFLICT_EXIT) reject(options.describeTimeout?.(timeoutSeconds) ?? new StoreLockTimeoutError(lockPath, timeoutSeconds));
      else reject(new RiboError(`Locking the image store with \`flock ${lockPath}\` failed (exit ${code}): ${stderr.trim()}. Check that the store directory is writable.`));
    });
  });

  if (options.background) {
    // Held until release() or our exit; it must not keep the process alive.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      // Waiting for the child must keep the process alive again.
      if (options.background) child.ref();
      child.stdin.end();
      await exited;
    },
  };
}

/** Runs `fn` holding the exclusive lock on `lockPath`. */
export async function withStoreLock<T>(lockPath: string, timeoutSeconds: number, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(lockPath, 'exclusive', timeoutSeconds);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * A shared lock kept until this process exits (or `release` is called),
 * without keeping the event loop alive: the kernel drops it when we die.
 */
export async function holdSharedLockForProcess(lockPath: string, timeoutSeconds: number, describeTimeout: (seconds: number) => RiboError): Promise<HeldLock> {
  return acquireLock(lockPath, 'shared', timeoutSeconds, { describeTimeout, background: true });
}
