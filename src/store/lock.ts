import { spawn } from 'node:child_process';
import { RiboError } from '../errors.js';
import { StoreLockTimeoutError } from './errors.js';

/*
 * The store lock is a kernel flock(2) on ROOT/lock, held by a `flock` child
 * process for as long as `fn` runs. Node cannot call flock itself, and a
 * lock file with a pid inside needs stale-lock breaking, which races when
 * several processes find the same stale lock. A kernel lock has no stale
 * state: when we exit or are killed, the child's stdin closes, `cat` ends,
 * the child exits and the kernel drops the lock.
 */

const CONFLICT_EXIT = 75;
const READY = 'locked\n';

export async function withStoreLock<T>(lockPath: string, timeoutSeconds: number, fn: () => Promise<T>): Promise<T> {
  const child = spawn(
    'flock',
    ['--exclusive', '--wait', String(timeoutSeconds), '--conflict-exit-code', String(CONFLICT_EXIT), lockPath,
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
      if (code === CONFLICT_EXIT) reject(new StoreLockTimeoutError(lockPath, timeoutSeconds));
      else reject(new RiboError(`Locking the image store with \`flock ${lockPath}\` failed (exit ${code}): ${stderr.trim()}. Check that the store directory is writable.`));
    });
  });

  try {
    return await fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}
