/**
 * `ribo build --output type=local,dest=DIR`: an image's filesystem, its layers
 * applied in order, written as plain files owned by the user who runs ribo
 * (as BuildKit's local exporter does), so they can be used and removed freely.
 */
import { mkdir } from 'node:fs/promises';
import { LayerApplier } from '../layer/apply.js';
import { decompressedLayer } from '../layer/compression.js';
import { readTar } from '../layer/index.js';
import type { ResolvedImage, Store } from '../store/index.js';
import { imageLayerRefs } from './layers.js';

export async function exportRootfs(store: Store, image: ResolvedImage, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  for (const layer of imageLayerRefs(image.manifest, image.config, image.ref ?? image.manifestDescriptor.digest)) {
    const applier = new LayerApplier(dir, 'merge');
    try {
      for await (const entry of readTar(decompressedLayer(store.openBlob(layer.descriptor.digest)))) {
        // Owners and security xattrs belong to the image, not to files handed to the user.
        await applier.apply({ ...entry, uid, gid, xattrs: new Map() });
      }
      await applier.finish();
    } catch (error) {
      applier.abandon();
      throw error;
    }
  }
}
