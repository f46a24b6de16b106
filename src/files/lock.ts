import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { RiboError } from '../errors.js';

/*
 * ribo's locks are kernel flock(2) locks. Node cannot call flock itself, so
 * we open the lock file and hand the descriptor to the `flock` utility,
 * which locks it and exits: the lock belongs to the open file, so it stays
 * ours until we close the file. A lock file with a pid inside would need
 * stale-lock breaking, which races when several processes find the same
 * stale lock; a kernel lock has no stale state: when we exit or are killed,
 * the file is closed and the kernel drops the lock. Node opens files
 * close-on-exec, so no child we start (crun, tar) holds it after us.
 */

const CONFLICT_EXIT = 75;

export type LockMode = 'shared' | 'exclusive';

export interface HeldLock {
  release(): Promise<void>;
}

/** Takes a flock on `lockPath` (created if missing, as flock(1) does), waiting at most `timeoutSeconds`. */
export async function lockOpenFile(lockPath: string, mode: LockMode, timeoutSeconds: number, describeTimeout: (seconds: number) => RiboError): Promise<HeldLock> {
  const fd = openSync(lockPath, constants.O_RDONLY | constants.O_CREAT, 0o644);
  let stderr = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('flock', [`--${mode}`, '--wait', String(timeoutSeconds), '--conflict-exit-code', String(CONFLICT_EXIT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // Every lock ribo takes is in its image store, hence the wording.
    child.once('error', (error) =>
      reject(new RiboError(`Could not run \`flock\` to lock the image store (${error.message}). Install util-linux, which provides it.`, { cause: error })),
    );
    child.once('close', resolve);
  }).catch((error: unknown) => {
    closeSync(fd);
    throw error;
  });
  if (code !== 0) {
    closeSync(fd);
    if (code === CONFLICT_EXIT) throw describeTimeout(timeoutSeconds);
    throw new RiboError(`Locking the image store with \`flock ${lockPath}\` failed (exit ${code}): ${stderr.trim()}. Check that the store directory is writable.`);
  }
  let held = true;
  return {
    release: async () => {
      if (held) closeSync(fd);
      held = false;
    },
  };
}

/** Runs `fn` holding the exclusive lock on `lockPath`; `describeTimeout` makes the error when it cannot be had in time. */
export async function withFileLock<T>(lockPath: string, timeoutSeconds: number, describeTimeout: (seconds: number) => RiboError, fn: () => Promise<T>): Promise<T> {
  const lock = await lockOpenFile(lockPath, 'exclusive', timeoutSeconds, describeTimeout);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
