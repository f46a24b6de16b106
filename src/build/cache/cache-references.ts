/** What `ribo prune` needs from the build cache: the blobs its steps use, and a way to drop it. */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Digest } from '../../oci/image.js';

const DIGEST = /sha256:[0-9a-f]{64}/g;

function stepsDir(storeRoot: string): string {
  return path.join(storeRoot, 'cache', 'steps');
}

/**
 * Every digest a cached step mentions (its layer blob and diffID). Read as
 * text, so it keeps working whatever else the entries come to hold.
 */
export async function buildCacheDigests(storeRoot: string): Promise<Set<Digest>> {
  const digests = new Set<Digest>();
  const dir = stepsDir(storeRoot);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => '');
    for (const match of text.matchAll(DIGEST)) digests.add(match[0]);
  }
  return digests;
}

/** Forgets every cached step (the layers go with the next prune). Returns how many there were. */
export async function clearBuildCache(storeRoot: string): Promise<number> {
  const dir = stepsDir(storeRoot);
  const names = await readdir(dir).catch(() => [] as string[]);
  await rm(path.join(storeRoot, 'cache'), { recursive: true, force: true });
  return names.length;
}
