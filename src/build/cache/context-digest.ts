import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { RiboError } from '../../errors.js';
import { FileDigestCache, sha256File } from './file-digests.js';

/** A file a COPY or bind mount reads from the context cannot be read. */
export class UnreadableSourceError extends RiboError {}

function readFailure(file: string, error: NodeJS.ErrnoException): Error {
  if (error.code !== 'EACCES' && error.code !== 'EPERM') return error;
  return new UnreadableSourceError(
    `Cannot read ${file}, which the build reads from its context: permission denied. Make it readable by the user running ribo (chmod a+r), or leave it out with .dockerignore.`,
    { cause: error },
  );
}

/** Files read at the same time while digesting: enough to keep the disk and the thread pool busy. */
const PARALLEL_READS = 16;

/** One entry of a walked source tree, in digest order; files get their content digest later. */
interface WalkedEntry {
  line: string;
  file?: string;
  info?: import('node:fs').BigIntStats;
  content?: Promise<string>;
}

/**
 * The entries below `rel` in digest order. Synchronous on purpose: thousands of
 * lstat calls through the thread pool cost several times what they cost inline,
 * and nothing else waits on the event loop meanwhile.
 */
function walk(rootDir: string, rel: string, isIgnored: ((rel: string) => boolean) | undefined, top: boolean, out: WalkedEntry[]): void {
  if (!top && isIgnored?.(rel)) return;
  const full = path.join(rootDir, rel);
  const info = lstatSync(full, { bigint: true });
  const mode = (Number(info.mode) & 0o7777).toString(8);
  if (info.isDirectory()) {
    out.push({ line: `dir\0${rel}\0${mode}\0` });
    for (const name of readdirSync(full).sort()) walk(rootDir, rel === '.' ? name : path.posix.join(rel, name), isIgnored, false, out);
  } else if (info.isSymbolicLink()) {
    out.push({ line: `link\0${rel}\0${readlinkSync(full)}\0` });
  } else if (info.isFile()) {
    out.push({ line: `file\0${rel}\0${mode}\0${info.size}\0`, file: full, info });
  } else {
    out.push({ line: `other\0${rel}\0${mode}\0` });
  }
}

/**
 * Digest of exactly what a COPY reads from its source tree: for each entry its
 * path, type, permission bits and content digest (or link target), in a fixed
 * order. Modification times and owners are left out: COPY sets owners itself,
 * and a touched but unchanged file must not invalidate the cache. File contents
 * are read several at a time, and not at all when `known` remembers them.
 */
export async function digestCopySources(rootDir: string, rels: string[], isIgnored?: (rel: string) => boolean, known?: FileDigestCache): Promise<string> {
  const entries: WalkedEntry[] = [];
  try {
    for (const rel of rels) walk(rootDir, rel, isIgnored, true, entries);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    throw readFailure(failure.path ?? rootDir, failure);
  }
  const files = entries.filter((e) => e.file !== undefined);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const entry = files[next++]!;
      entry.content = (known ? known.digest(entry.file!, entry.info!) : sha256File(entry.file!, Number(entry.info!.size))).catch((error: NodeJS.ErrnoException) => {
        throw readFailure(entry.file!, error);
      });
      await entry.content;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, files.length) }, worker));
  const hash = createHash('sha256');
  for (const entry of entries) {
    hash.update(entry.line);
    if (entry.content) hash.update(`${await entry.content}\0`);
  }
  return `sha256:${hash.digest('hex')}`;
}
