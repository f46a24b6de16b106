import { promises as fs } from 'node:fs';
import { execa } from 'execa';

/** Flush a directory so a rename into it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes everything written to the file system `file` is on (syncfs(2),
 * through coreutils' `sync -f`, as Node has no call for it): one wait for
 * the disk instead of an fsync per file of a whole tree.
 */
export async function syncFileSystem(file: string): Promise<void> {
  const result = await execa('sync', ['-f', file], { reject: false });
  if (result.exitCode !== 0) throw new Error(`sync -f ${file} failed: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
}
