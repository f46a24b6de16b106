import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { syncDir } from './sync.js';
import { currentProcess, isAlive, ownedName, parseOwner } from './process-identity.js';

/*
 * Every file ribo replaces while others may read it (the store's index,
 * container records, run plans, cache entries, credentials, archives) is
 * written to a temp file in the same directory and renamed over the old one:
 * rename(2) is atomic, so a reader sees the old file or the new one, never
 * half of one, and a crash leaves at most a temp file behind.
 */

export interface AtomicWriteOptions {
  /** Permission bits of the new file, before the umask (default 0o666, as writeFile). */
  mode?: number;
  /**
   * Flush the file before the rename and its directory after it, so the new
   * content survives a power loss. A disk wait each: only where losing the
   * write matters (the store's index), never on the paths of a cached build
   * or a container start.
   */
  fsync?: boolean;
  /** The temp file, on the same file system as the target (default: tempPathBeside(target)). */
  tempPath?: string;
}

/**
 * "<target>.<pid>.<random hex>.tmp": unique among concurrent writers, and
 * the pid lets the store remove what a dead process left (store/layout.ts).
 */
export function tempPathBeside(target: string): string {
  return `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/**
 * ".<name>.<pid>.<start>-<random hex>.tmp" beside `target`: hidden, so a
 * user's directory shows no half-written file, and owned (files/process-identity.ts),
 * so the next writer of the same target removes what a killed one left
 * (removeStaleTempsBeside).
 */
export function hiddenTempPathBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${ownedName(currentProcess())}.tmp`);
}

/** Earlier ribo versions named the hidden temp file ".<name>.<pid>-<8 hex>.tmp". */
const PID_ONLY_OWNER = /^(\d+)-[0-9a-f]{8}$/;

/**
 * Removes the temp files hiddenTempPathBeside gave writers of `target` that
 * are gone (killed mid-write); those of live writers stay.
 */
export async function removeStaleTempsBeside(target: string): Promise<void> {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.`;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const middle = name.slice(prefix.length, -'.tmp'.length);
    const pidOnly = PID_ONLY_OWNER.exec(middle);
    const owner = pidOnly ? { pid: Number(pidOnly[1]), start: 0 } : parseOwner(middle);
    if (owner && !isAlive(owner)) await fs.rm(path.join(dir, name), { force: true });
  }
}

/** Renames `temp` over `target`; on failure `temp` is removed and the error passed on. */
export async function moveIntoPlace(temp: string, target: string): Promise<void> {
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/**
 * Replaces `target` with what `fill` writes to the temp file it is given
 * (a stream, a copy, a hard link), atomically. On any failure the temp file
 * is removed and `target` is left as it was.
 */
export async function replaceFileAtomic(target: string, fill: (tempPath: string) => Promise<void>, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = options.tempPath ?? tempPathBeside(target);
  try {
    await fill(temp);
    if (options.fsync) await syncFile(temp);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await moveIntoPlace(temp, target);
  if (options.fsync) await syncDir(path.dirname(target));
}

/** Replaces `target` with `data`, atomically (see replaceFileAtomic). */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  // 'wx': the temp file is always new, never something left there or a link to follow.
  await replaceFileAtomic(target, (temp) => fs.writeFile(temp, data, { flag: 'wx', mode: options.mode ?? 0o666 }), options);
}

async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
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
