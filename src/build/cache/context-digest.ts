import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Digest of exactly what a COPY reads from its source tree: for each entry its
 * path, type, permission bits and content (or link target), in a fixed order.
 * Modification times and owners are left out: COPY sets owners itself, and a
 * touched but unchanged file must not invalidate the cache.
 */
export async function digestCopySources(rootDir: string, rels: string[], isIgnored?: (rel: string) => boolean): Promise<string> {
  const hash = createHash('sha256');
  for (const rel of rels) await digestEntry(hash, rootDir, rel, isIgnored, true);
  return `sha256:${hash.digest('hex')}`;
}

async function digestEntry(hash: Hash, rootDir: string, rel: string, isIgnored: ((rel: string) => boolean) | undefined, top: boolean): Promise<void> {
  if (!top && isIgnored?.(rel)) return;
  const full = path.join(rootDir, rel);
  const info = await lstat(full);
  const mode = (info.mode & 0o7777).toString(8);
  if (info.isDirectory()) {
    hash.update(`dir\0${rel}\0${mode}\0`);
    for (const name of (await readdir(full)).sort()) {
      await digestEntry(hash, rootDir, rel === '.' ? name : path.posix.join(rel, name), isIgnored, false);
    }
  } else if (info.isSymbolicLink()) {
    hash.update(`link\0${rel}\0${await readlink(full)}\0`);
  } else if (info.isFile()) {
    hash.update(`file\0${rel}\0${mode}\0${info.size}\0`);
    for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer);
    hash.update('\0');
  } else {
    hash.update(`other\0${rel}\0${mode}\0`);
  }
}
