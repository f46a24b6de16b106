/**
 * The store's unpacked layers, `layers/<diffID>/`: each made once, in the
 * encoding every snapshotter reads as a lower dir (whiteouts as 0/0 character
 * devices, opaque dirs as an xattr), and shared by every view over it.
 */
import { rename, rm } from 'node:fs/promises';
import { applyLayer } from '../layer/index.js';
import type { Descriptor, Digest } from '../oci/image.js';
import type { Store } from '../store/index.js';

/** `layers/<diffID>/`, unpacked from the layer tar `open` gives (plain or compressed) unless it is there already. */
export function unpackLayer(store: Store, diffID: Digest, open: () => NodeJS.ReadableStream): Promise<string> {
  return store.ensureUnpacked(diffID, (tempDir) => applyLayer(open(), tempDir, { mode: 'lower' }));
}

/** `layers/<diffID>/` of a layer blob in the store. */
export function unpackLayerBlob(store: Store, layer: { descriptor: Descriptor; diffID: Digest }): Promise<string> {
  return unpackLayer(store, layer.diffID, () => store.openBlob(layer.descriptor.digest));
}

/**
 * `layers/<diffID>/` from the upper dir of a view whose snapshotter's upper
 * dirs are lower dirs as they are (Capabilities.upperIsLowerDir): renamed
 * into place, no unpacking. The upper dir is gone afterwards either way.
 */
export async function adoptUpperDir(store: Store, diffID: Digest, upperDir: string): Promise<string> {
  const dir = await store.ensureUnpacked(diffID, async (tempDir) => {
    await rm(tempDir, { recursive: true, force: true });
    await rename(upperDir, tempDir);
  });
  await rm(upperDir, { recursive: true, force: true });
  return dir;
}
