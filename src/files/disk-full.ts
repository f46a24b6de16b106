import { RiboError } from '../errors.js';
import { isErrno } from './errno.js';

/*
 * A full file system (ENOSPC) or an exhausted quota (EDQUOT) is the user's to
 * fix, not a bug: every such error, wherever it comes from, is reported as one
 * DiskFullError that says what was being written, where the store is, and how
 * to make room.
 */

/** No space (or quota) left while writing `what`. */
export class DiskFullError extends RiboError {
  constructor(readonly what: string, readonly storeRoot: string | undefined, readonly code: string, cause?: unknown) {
    const reason = code === 'EDQUOT' ? 'the disk quota is exhausted (EDQUOT)' : 'no space is left on the device (ENOSPC)';
    const store = storeRoot ? ` The image store is ${storeRoot}.` : '';
    super(
      `Cannot write ${what}: ${reason}.${store} Free space on that file system and try again: ` +
        '`ribo rmi` the images you no longer need, then `ribo prune` deletes their blobs, layers and the unused build cache ' +
        '(both work on a full disk). Nothing half-written was kept.',
      { exitCode: 1, cause },
    );
  }
}

/** The ENOSPC/EDQUOT error in `error` or its causes, if any. */
export function diskFullCause(error: unknown): NodeJS.ErrnoException | undefined {
  for (let current = error, depth = 0; current && depth < 10; current = (current as Error).cause, depth++) {
    if (isErrno(current, 'ENOSPC', 'EDQUOT')) return current as NodeJS.ErrnoException;
  }
  return undefined;
}

/**
 * `error` as a DiskFullError when it is (or was caused by) ENOSPC/EDQUOT,
 * naming `what` (else the path the system call named); otherwise `error` itself.
 */
export function asDiskFull(error: unknown, what: string | undefined, storeRoot?: string): unknown {
  if (error instanceof DiskFullError) return error;
  const cause = diskFullCause(error);
  if (!cause) return error;
  return new DiskFullError(what ?? (cause.path ? cause.path : 'a file'), storeRoot, cause.code ?? 'ENOSPC', error);
}
