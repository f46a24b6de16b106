import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { unpackImageLayers, verifyLayerDiffIDs } from '../../src/image/layers.js';
import { DiffIDMismatchError } from '../../src/layer/index.js';
import type { ImageConfig } from '../../src/oci/image.js';
import { Store } from '../../src/store/index.js';
import { makeTempDir, removeTempDir, storeImage } from './support.js';

describe('layers unpacked under the diffID an image config claims', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('diffids');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  it('unpacks a layer whose content hashes to its diffID', async () => {
    await storeImage(store, 'good', [[{ path: 'who', content: 'good' }]]);
    const image = await store.resolveImage('good');
    await verifyLayerDiffIDs(store, image.manifest, image.config, 'good');
    const [layer] = await unpackImageLayers(store, image.manifest, image.config, 'good');
    expect(await readFile(path.join(layer!.dir, 'who'), 'utf8')).toBe('good');
  });

  it('refuses a layer whose config claims another diffID, and publishes nothing under layers/', async () => {
    await storeImage(store, 'victim', [[{ path: 'who', content: 'victim' }]]);
    await storeImage(store, 'evil', [[{ path: 'who', content: 'evil' }]]);
    const victim = await store.resolveImage('victim');
    const evil = await store.resolveImage('evil');
    const forged: ImageConfig = { ...evil.config, rootfs: { type: 'layers', diff_ids: victim.config.rootfs.diff_ids } };

    await expect(verifyLayerDiffIDs(store, evil.manifest, forged, 'evil')).rejects.toThrow(DiffIDMismatchError);
    const error = await unpackImageLayers(store, evil.manifest, forged, 'evil').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiffIDMismatchError);
    expect((error as Error).message).toContain(`Layer ${evil.manifest.layers[0]!.digest} of image evil`);
    expect((error as Error).message).toContain(`the image's config says ${victim.config.rootfs.diff_ids[0]}`);
    expect(await readdir(path.join(store.root, 'layers'))).toEqual([]);
    expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);

    const [layer] = await unpackImageLayers(store, victim.manifest, victim.config, 'victim');
    expect(await readFile(path.join(layer!.dir, 'who'), 'utf8')).toBe('victim');
  });
});
