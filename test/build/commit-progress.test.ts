import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitUpperDir } from '../../src/build/commit.js';
import { Store } from '../../src/store/index.js';
import { makeTempDir, removeTempDir } from '../store/support.js';

let dir: string;

beforeEach(() => {
  dir = makeTempDir('commit-progress');
});

afterEach(async () => {
  await removeTempDir(dir);
});

it('reports the layer bytes written while it commits, never more than the blob', async () => {
  const store = await Store.open(path.join(dir, 'store'));
  const upper = path.join(dir, 'upper');
  await mkdir(upper);
  // Random bytes do not compress: the blob is about as big as the file.
  await writeFile(path.join(upper, 'big'), randomBytes(8 * 1024 * 1024));
  const reports: number[] = [];
  const layer = await commitUpperDir(store, upper, { upperIsLowerDir: false, onProgress: (bytes) => reports.push(bytes), progressIntervalMs: 1 });
  expect(reports.length).toBeGreaterThan(1);
  expect(reports).toEqual([...reports].sort((a, b) => a - b));
  expect(reports.at(-1)).toBeLessThanOrEqual(layer.descriptor.size);
  expect(reports.some((bytes) => bytes > 0)).toBe(true);
  // No report once the commit is over.
  const count = reports.length;
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(reports).toHaveLength(count);
});
