import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitUpperDir, startCommit } from '../../src/build/commit.js';
import { Store } from '../../src/store/index.js';
import { makeTempDir, removeTempDir } from '../store/support.js';

let dir: string;

beforeEach(() => {
  dir = makeTempDir('start-commit');
});

afterEach(async () => {
  await removeTempDir(dir);
});

/** The same tree each time: a random file (incompressible) and a text file (compressible). */
async function makeUpper(name: string, random: Buffer): Promise<string> {
  const upper = path.join(dir, name);
  await mkdir(path.join(upper, 'etc'), { recursive: true });
  await writeFile(path.join(upper, 'blob.bin'), random);
  await writeFile(path.join(upper, 'etc', 'text'), 'some text line\n'.repeat(100_000));
  return upper;
}

describe('startCommit', () => {
  const epoch = 1_700_000_000;
  const random = randomBytes(3 * 1024 * 1024 + 17);

  it('commits in the background into a new layer dir, with the blob commitUpperDir writes', async () => {
    const reference = await commitUpperDir(await Store.open(path.join(dir, 'reference')), await makeUpper('upper-ref', random), { upperIsLowerDir: true, sourceDateEpoch: epoch });
    const store = await Store.open(path.join(dir, 'store'));
    const upper = await makeUpper('upper', random);
    const started = await startCommit(store, upper, { sourceDateEpoch: epoch });
    expect(started.diffID).toBe(reference.diffID);
    expect(started.dir).toBe(store.layerDir(reference.diffID));
    expect(existsSync(upper)).toBe(false);
    expect((await started.blob).descriptor).toEqual(reference.descriptor);
    expect(await readFile(path.join(started.dir, 'etc', 'text'), 'utf8')).toBe('some text line\n'.repeat(100_000));
  });

  it('where the layer dir exists already, the next steps get it at once and the blob is still written from the upper dir', async () => {
    const reference = await commitUpperDir(await Store.open(path.join(dir, 'reference')), await makeUpper('upper-ref', random), { upperIsLowerDir: true, sourceDateEpoch: epoch });
    const store = await Store.open(path.join(dir, 'store'));
    // An earlier build made the same tree: its layer dir is there, its blob is gone (pruned, or never kept).
    const earlier = await startCommit(store, await makeUpper('upper-earlier', random), { sourceDateEpoch: epoch });
    await earlier.blob;
    await store.removeBlob((await earlier.blob).descriptor.digest);
    const upper = await makeUpper('upper', random);
    const started = await startCommit(store, upper, { sourceDateEpoch: epoch });
    expect(started.dir).toBe(earlier.dir);
    // Moved out of the step's work dir at once: the step may remove its work dir while the blob is written.
    expect(existsSync(upper)).toBe(false);
    const blob = await started.blob;
    expect(blob.descriptor).toEqual(reference.descriptor);
    expect(await store.hasBlob(blob.descriptor.digest)).toBe(true);
    // The upper dir it was written from is gone once the blob is in the store; the layer dir stays.
    expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
    expect((await readFile(path.join(started.dir, 'blob.bin'))).equals(random)).toBe(true);
  });

  it('where the layer dir exists and the last blob of the step is in the store, that blob is the layer', async () => {
    const store = await Store.open(path.join(dir, 'store'));
    const earlier = await startCommit(store, await makeUpper('upper-earlier', random), { sourceDateEpoch: epoch });
    const likely = await earlier.blob;
    const upper = await makeUpper('upper', random);
    const started = await startCommit(store, upper, { sourceDateEpoch: epoch, likely });
    expect(started.dir).toBe(earlier.dir);
    expect(await started.blob).toEqual(likely);
    expect(existsSync(upper)).toBe(false);
    expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
  });
});
