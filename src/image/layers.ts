import type { Descriptor, Digest, ImageConfig, ImageManifest } from '../oci/image.js';
import { RiboError } from '../errors.js';
import { applyLayer } from '../layer/index.js';
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
    ref.dir = await store.ensureUnpacked(ref.diffID, (tempDir) => applyLayer(store.openBlob(ref.descriptor.digest), tempDir, { mode: 'lower' }));
  }
  return refs;
}

/**
 * The lower dirs that mount `layers` (bottom-most first), top-most first as
 * overlay wants them, each layer once. Every stack ribo mounts (build steps,
 * containers and their records, run plans, `ribo cp`) is made here.
 *
 * An image may hold the same layer (same diffID, so the same `layers/<diffID>`
 * dir) more than once: steps that change nothing (`RUN echo one`, then
 * `RUN echo two`) each make an empty layer, as BuildKit and docker do, and the
 * image keeps all of them. The kernel overlay refuses a lower dir given twice
 * (ELOOP, "Too many levels of symbolic links"), so only the top-most occurrence
 * of each is kept, which shows the same tree. Overlay resolves a path top
 * down, and a layer below another can only add what no layer above it
 * decided. The upper occurrence of a layer has already decided every path
 * the layer holds: a file, symlink or whiteout there ends the lookup (and
 * hides any subtree below), an opaque dir hides everything below it, and a
 * plain dir merges on downwards, where the lower occurrence offers exactly
 * the children the upper one already listed, each decided the same way. Paths
 * the layer does not hold it leaves to the layers below either way. So a lower
 * repeat adds nothing and hides nothing, adjacent or not (A, B, A keeps the
 * top A above B: the bottom one could only show what B has not decided, which
 * the top A has already decided). Keeping the bottom-most instead would be
 * wrong: it would let B override the top A.
 */
export function lowerDirs(layers: readonly LayerRef[]): string[] {
  return [...new Set(layers.map((l) => l.dir).reverse())];
}
