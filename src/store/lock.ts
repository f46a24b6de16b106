import { withFileLock } from '../files/lock.js';
import { StoreLockTimeoutError } from './errors.js';

/** Runs `fn` holding the exclusive lock on `lockPath`, a lock file in the store. */
export function withStoreLock<T>(lockPath: string, timeoutSeconds: number, fn: () => Promise<T>): Promise<T> {
  return withFileLock(lockPath, timeoutSeconds, (seconds) => new StoreLockTimeoutError(lockPath, seconds), fn);
}
