import type { Descriptor, Digest, ImageConfig, ImageManifest } from '../oci/image.js';
import { RiboError } from '../errors.js';
import { pipeline } from 'node:stream/promises';
import { openLayerSink } from './layer-sink.js';
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

/** A layer blob together with the diffID an image claims for it: what verifyLayerDiffIDs checks once. */
export function layerClaimKey(blobDigest: Digest, diffID: Digest): string {
  return `${blobDigest} ${diffID}`;
}

/**
 * Checks, before an image is tagged (`ribo load`, `ribo pull`), that each
 * layer blob decompresses to the diffID the config claims for it, as docker
 * does: DiffIDMismatchError names the first that does not. The store's blobs
 * are read for it (streamed), except the claims in `checked` (a pull checks
 * what it downloads on the way in). With `unpack`, a layer not unpacked yet is
 * unpacked on the same read (image/layer-sink.ts). Unpacking checks the same
 * (snapshot/layers.ts); this makes a forged image fail where it comes in.
 */
export async function verifyLayerDiffIDs(store: Store, manifest: ImageManifest, config: ImageConfig, imageName: string, opts: { checked?: ReadonlySet<string>; unpack?: boolean } = {}): Promise<void> {
  const checked = new Set<string>(opts.checked);
  for (const ref of imageLayerRefs(manifest, config, imageName)) {
    if (ref.descriptor.urls?.length) continue; // a foreign layer is not in the store
    const key = layerClaimKey(ref.descriptor.digest, ref.diffID);
    if (checked.has(key)) continue;
    checked.add(key);
    const sink = await openLayerSink(store, ref, { unpack: opts.unpack ?? false, what: `Layer ${ref.descriptor.digest} of image ${imageName}` });
    sink.verified(); // the store's blobs were checked when they came in
    await pipeline(store.openBlob(ref.descriptor.digest), sink.input).catch(async (error: Error) => sink.abort(error));
    await sink.done;
  }
}

/**
 * The lower dirs that mount `layers` (bottom-most first), top-most first as
 * overlay wants them. A layer the image holds twice stays twice here; the
 * snapshotter mounts it once (snapshot/mount.ts, uniqueLowers, says why).
 */
export function lowerDirs(layers: readonly LayerRef[]): string[] {
  return layers.map((l) => l.dir).reverse();
}
