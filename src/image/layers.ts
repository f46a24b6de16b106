import type { Descriptor, Digest, ImageConfig, ImageManifest } from '../oci/image.js';
import { RiboError } from '../errors.js';
import { unpackLayerBlob } from '../snapshot/index.js';
import type { Store } from '../store/index.js';

/** One layer of an image as the build engine and runner use it. */
export interface LayerRef {
  descriptor: Descriptor;
  diffID: Digest;
  /** The unpacked layer, usable as an overlay lower dir. */
  dir: string;
}

export class CorruptImageError extends RiboError {}

/** An image's layers, bottom-most first, without unpacking them (`dir` left empty). */
export function imageLayerRefs(manifest: ImageManifest, config: ImageConfig, imageName: string): LayerRef[] {
  const diffIDs = config.rootfs?.diff_ids ?? [];
  if (diffIDs.length !== manifest.layers.length) {
    throw new CorruptImageError(`Image ${imageName} is inconsistent: its manifest lists ${manifest.layers.length} layers but its config ${diffIDs.length} diff_ids. Pull or build it again.`);
  }
  return manifest.layers.map((descriptor, i) => ({ descriptor, diffID: diffIDs[i]!, dir: '' }));
}

/** Unpacks (once, and kept in the store) each layer blob of an image; bottom-most first. */
export async function unpackImageLayers(store: Store, manifest: ImageManifest, config: ImageConfig, imageName: string): Promise<LayerRef[]> {
  const refs = imageLayerRefs(manifest, config, imageName);
  for (const ref of refs) {
    ref.dir = await unpackLayerBlob(store, ref, imageName);
  }
  return refs;
}

/**
 * The lower dirs that mount `layers` (bottom-most first), top-most first as
 * overlay wants them. A layer the image holds twice stays twice here; the
 * snapshotter mounts it once (snapshot/mount.ts, uniqueLowers, says why).
 */
export function lowerDirs(layers: readonly LayerRef[]): string[] {
  return layers.map((l) => l.dir).reverse();
}
