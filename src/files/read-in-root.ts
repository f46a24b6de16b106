/**
 * Reading a small file of an image or container (its /etc/passwd, /etc/group)
 * without trusting it: the path is resolved inside the root as the container
 * sees it (a link to `../../../../etc/passwd` stays in the image), the last
 * component is opened with O_NOFOLLOW and O_NONBLOCK (a FIFO does not block
 * the open), only a regular file is read (no FIFO, device or socket: `/dev/zero`
 * is not read for ever), and no more than `maxBytes`.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { RiboError } from '../errors.js';
import { isErrno } from './errno.js';
import { resolveInRoot } from './root-path.js';

/** A file of an image that ribo reads is not a regular file, or is too big. */
export class UnsafeImageFileError extends RiboError {}

export interface ReadInRootOptions {
  /** Refuse a file larger than this. */
  maxBytes: number;
  /** The file as the error names it, e.g. "the image's /etc/passwd". */
  what: string;
}

/** The text of `containerPath` inside `root`, or undefined when it does not exist. */
export async function readFileInRoot(root: string, containerPath: string, opts: ReadInRootOptions): Promise<string | undefined> {
  const hostPath = await resolveInRoot(root, containerPath);
  let handle;
  try {
    handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    if (isErrno(error, 'ELOOP')) throw new UnsafeImageFileError(`${opts.what} (${containerPath}) changed into a symbolic link while ribo read it; nothing was read from it.`);
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new UnsafeImageFileError(`${opts.what} (${containerPath}) is not a regular file (it is a ${kindOf(info)}); ribo reads only regular files there. Make it a plain file in the image.`);
    }
    if (info.size > opts.maxBytes) throw tooBig(opts, containerPath);
    const buffer = Buffer.alloc(Math.min(info.size, opts.maxBytes) + 1);
    let length = 0;
    // Read one byte beyond the limit, in case the file grew since fstat.
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > opts.maxBytes) throw tooBig(opts, containerPath);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

function tooBig(opts: ReadInRootOptions, containerPath: string): UnsafeImageFileError {
  return new UnsafeImageFileError(`${opts.what} (${containerPath}) is larger than ${opts.maxBytes} bytes, the most ribo reads of it; make it smaller in the image.`);
}

function kindOf(info: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isDirectory(): boolean }): string {
  if (info.isFIFO()) return 'FIFO';
  if (info.isCharacterDevice()) return 'character device';
  if (info.isBlockDevice()) return 'block device';
  if (info.isSocket()) return 'socket';
  if (info.isDirectory()) return 'directory';
  return 'special file';
}
