import { promises as fs } from 'node:fs';
import path from 'node:path';
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

/** Write `data` to `tempPath`, flush it, and rename it over `target` in one atomic step. */
export async function writeFileAtomic(tempPath: string, target: string, data: string): Promise<void> {
  const handle = await fs.open(tempPath, 'wx', 0o644);
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tempPath, target);
  } catch (error) {
    await fs.rm(tempPath, { force: true });
    throw error;
  }
  await syncDir(path.dirname(target));
}

/**
 * Create `target` with `data` only if nothing is there yet. link(2) fails
 * when the name exists, so a concurrent creator or an existing file wins.
 */
export async function createFileIfAbsent(tempPath: string, target: string, data: string): Promise<void> {
  await fs.writeFile(tempPath, data, { flag: 'wx', mode: 0o644 });
  try {
    await fs.link(tempPath, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await fs.rm(tempPath, { force: true });
  }
}

/**
 * rm -rf that also copes with read-only directories, which unpacked layers
 * often contain (a non-root user cannot delete entries of a 0555 dir).
 */
export async function removeTree(target: string): Promise<void> {
  try {
    await fs.rm(target, { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
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

export function isErrno(error: unknown, ...codes: string[]): boolean {
  return codes.includes((error as NodeJS.ErrnoException)?.code ?? '');
}
