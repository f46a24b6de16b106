import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitUpperDir, startCommit } from '../../src/build/commit.js';
import { adoptUpperDir } from '../../src/snapshot/index.js';
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

describe('startCommit, then adoptUpperDir once the build has run', () => {
  const epoch = 1_700_000_000;
  const random = randomBytes(3 * 1024 * 1024 + 17);

  it('moves the upper dir to a pending dir in layers/ at once, writes the blob commitUpperDir writes, and publishes the tree under its diffID', async () => {
    const reference = await commitUpperDir(await Store.open(path.join(dir, 'reference')), await makeUpper('upper-ref', random), { upperIsLowerDir: true, sourceDateEpoch: epoch });
    const store = await Store.open(path.join(dir, 'store'));
    const upper = await makeUpper('upper', random);
    const started = await startCommit(store, upper, { sourceDateEpoch: epoch });
    // Moved out of the step's work dir at once, beside the layer dirs (one overlay names them relative to layers/).
    expect(existsSync(upper)).toBe(false);
    expect(path.dirname(started.dir)).toBe(path.join(store.root, 'layers'));
    expect(await readFile(path.join(started.dir, 'etc', 'text'), 'utf8')).toBe('some text line\n'.repeat(100_000));
    const blob = await started.blob;
    expect(blob).toEqual({ descriptor: reference.descriptor, diffID: reference.diffID });
    // Not a layer until published: nothing in layers/ carries a diffID's name yet.
    expect(await store.listUnpackedLayers()).toEqual([]);
    const published = await adoptUpperDir(store, blob.diffID, started.dir);
    expect(published).toBe(store.layerDir(reference.diffID));
    expect(await readdir(path.join(store.root, 'layers'))).toEqual([path.basename(published)]);
    expect((await readFile(path.join(published, 'blob.bin'))).equals(random)).toBe(true);
  });

  it('where the layer dir exists already, publishing removes the pending tree and gives that dir', async () => {
    const reference = await commitUpperDir(await Store.open(path.join(dir, 'reference')), await makeUpper('upper-ref', random), { upperIsLowerDir: true, sourceDateEpoch: epoch });
    const store = await Store.open(path.join(dir, 'store'));
    // An earlier build made the same tree: its layer dir is there, its blob is gone (pruned, or never kept).
    const earlier = await startCommit(store, await makeUpper('upper-earlier', random), { sourceDateEpoch: epoch });
    const earlierDir = await adoptUpperDir(store, (await earlier.blob).diffID, earlier.dir);
    await store.removeBlob((await earlier.blob).descriptor.digest);
    const started = await startCommit(store, await makeUpper('upper', random), { sourceDateEpoch: epoch });
    const blob = await started.blob;
    expect(blob.descriptor).toEqual(reference.descriptor);
    expect(await store.hasBlob(blob.descriptor.digest)).toBe(true);
    expect(await adoptUpperDir(store, blob.diffID, started.dir)).toBe(earlierDir);
    expect(existsSync(started.dir)).toBe(false);
    expect(await readdir(path.join(store.root, 'layers'))).toEqual([path.basename(earlierDir)]);
    expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('where the step made its last layer again and that blob is in the store, that blob is the layer', async () => {
    const store = await Store.open(path.join(dir, 'store'));
    const earlier = await startCommit(store, await makeUpper('upper-earlier', random), { sourceDateEpoch: epoch });
    const likely = await earlier.blob;
    const blobsBefore = await readdir(path.join(store.root, 'blobs', 'sha256'));
    const started = await startCommit(store, await makeUpper('upper', random), { sourceDateEpoch: epoch, likely });
    expect(await started.blob).toEqual(likely);
    expect(await readdir(path.join(store.root, 'blobs', 'sha256'))).toEqual(blobsBefore);
  });

  it("leaves a pending tree that Store.open removes once its owner has died", async () => {
    const root = path.join(dir, 'store');
    const store = await Store.open(root);
    const started = await startCommit(store, await makeUpper('upper', random), { sourceDateEpoch: epoch });
    await started.blob;
    // The same tree under a name a dead process owns (pid 2^22 + 1 is above any pid_max).
    const orphan = path.join(root, 'layers', `${2 ** 22 + 1}.1-pending-0123456789ab`);
    await rename(started.dir, orphan);
    await Store.open(root);
    expect(existsSync(orphan)).toBe(false);
  });
});
