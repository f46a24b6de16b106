import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { digestCopySources } from '../../src/build/cache/context-digest.js';
import { FileDigestCache } from '../../src/build/cache/file-digests.js';
import { contextFilter, createIgnoreMatcher } from '../../src/dockerfile/index.js';

let dir: string;
let cacheRoot: string;
const later = () => BigInt(Date.now() + 60_000) * 1_000_000n;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-ctx-'));
  cacheRoot = await mkdtemp(path.join(os.tmpdir(), 'ribo-cache-'));
  await mkdir(path.join(dir, 'src/lib'), { recursive: true });
  await writeFile(path.join(dir, 'src/a.txt'), 'alpha');
  await writeFile(path.join(dir, 'src/lib/b.txt'), 'beta');
  await symlink('a.txt', path.join(dir, 'src/link'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(cacheRoot, { recursive: true, force: true });
});

it('changes with content, mode, names and link targets, not with mtimes', async () => {
  const first = await digestCopySources(dir, ['src']);
  await utimes(path.join(dir, 'src/a.txt'), new Date(0), new Date(0));
  expect(await digestCopySources(dir, ['src'])).toBe(first);
  await writeFile(path.join(dir, 'src/lib/b.txt'), 'BETA');
  const changed = await digestCopySources(dir, ['src']);
  expect(changed).not.toBe(first);
  await rm(path.join(dir, 'src/link'));
  await symlink('lib/b.txt', path.join(dir, 'src/link'));
  expect(await digestCopySources(dir, ['src'])).not.toBe(changed);
});

it('leaves out what the ignore matcher excludes', async () => {
  const all = await digestCopySources(dir, ['src']);
  const ignored = (rel: string) => rel === 'src/lib';
  const withoutLib = await digestCopySources(dir, ['src'], ignored);
  expect(withoutLib).not.toBe(all);
  await writeFile(path.join(dir, 'src/lib/b.txt'), 'changed but ignored');
  expect(await digestCopySources(dir, ['src'], ignored)).toBe(withoutLib);
});

it('covers re-included files inside an ignored directory, and only those', async () => {
  await writeFile(path.join(dir, 'src/lib/c.txt'), 'gamma');
  const hidden = contextFilter(dir, createIgnoreMatcher(['src/lib', '!src/lib/b.txt']));
  const first = await digestCopySources(dir, ['src'], hidden);
  await writeFile(path.join(dir, 'src/lib/c.txt'), 'still ignored');
  expect(await digestCopySources(dir, ['src'], hidden)).toBe(first);
  await writeFile(path.join(dir, 'src/lib/b.txt'), 're-included, so it counts');
  expect(await digestCopySources(dir, ['src'], hidden)).not.toBe(first);
});

it('gives the same digest with remembered file digests as without', async () => {
  const plain = await digestCopySources(dir, ['src']);
  const cache = await FileDigestCache.open(cacheRoot, dir, later);
  expect(await digestCopySources(dir, ['src'], undefined, cache)).toBe(plain);
  await cache.save();
  const reopened = await FileDigestCache.open(cacheRoot, dir, later);
  expect(reopened.size).toBe(2);
  expect(await digestCopySources(dir, ['src'], undefined, reopened)).toBe(plain);
});

it('digests a file again when its content changed, even with size and mtime put back', async () => {
  const file = path.join(dir, 'src/a.txt');
  const cache = await FileDigestCache.open(cacheRoot, dir, later);
  const before = await stat(file);
  expect(await cache.digest(file, await lstat(file, { bigint: true }))).toBe(createHash('sha256').update('alpha').digest('hex'));
  await writeFile(file, 'ALPHA');
  await utimes(file, before.atime, before.mtime);
  expect(await cache.digest(file, await lstat(file, { bigint: true }))).toBe(createHash('sha256').update('ALPHA').digest('hex'));
});

it('does not remember files changed in the last moments, which could change again unseen', async () => {
  const cache = await FileDigestCache.open(cacheRoot, dir);
  await digestCopySources(dir, ['src'], undefined, cache);
  expect(cache.size).toBe(0);
});
