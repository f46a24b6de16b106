import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isErrno } from './errno.js';

/**
 * rm -rf that also copes with read-only directories, which unpacked layers
 * often contain (a non-root user cannot delete entries of a 0555 dir).
 */
export async function removeTree(target: string): Promise<void> {
  try {
    await fs.rm(target, { recursive: true, force: true });
  } catch (error) {
    if (!isErrno(error, 'EACCES', 'EPERM')) throw error;
    await makeDirsWritable(target);
    await fs.rm(target, { recursive: true, force: true });
  }
}

async function makeDirsWritable(dir: string): Promise<void> {
  try {
    if (!(await fs.lstat(dir)).isDirectory()) return;
    await fs.chmod(dir, 0o700);
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await makeDirsWritable(path.join(dir, entry.name));
    }
  } catch (error) {
    // Another process cleaning the same stale entry may have removed it already.
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}
