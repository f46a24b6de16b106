/**
 * Garbage collection: forgets untagged (dangling) images, as `docker image
 * prune` does, then deletes the blobs and unpacked layers that no image left
 * in index.json reaches, except those the caller keeps (the build cache's
 * layers). Runs while no other ribo process has the store open,
 * so a build or load in progress never loses blobs it has not tagged yet.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MediaType, type Descriptor, type Digest, type ImageConfig, type ImageIndex, type ImageManifest } from '../oci/image.js';
import { RiboError } from '../errors.js';
import { imageIdOf, isKeptUntagged, type Store } from '../store/index.js';
import { LayerSizes } from '../store/layer-sizes.js';

export interface PruneReport {
  /** The untagged images forgotten (their index.json entries): manifest digest and image id. */
  images: Array<{ digest: Digest; id: Digest }>;
  blobs: Array<{ digest: Digest; size: number }>;
  layers: Array<{ diffID: Digest; size: number }>;
  /** Bytes freed: blobs plus unpacked layers. */
  freed: number;
}

export interface PruneOptions {
  /** Digests (blob digests or diffIDs) to keep although no image reaches them; asked once the store is ours. */
  keep: () => Promise<Set<Digest>>;
  /** Manifest digests kept as if index.json named them (the images containers were made from). */
  keepImages?: () => Promise<Digest[]>;
  /** Say what would go, delete nothing. */
  dryRun?: boolean;
  /** How long to wait for other ribo processes to finish. */
  waitSeconds?: number;
  /**
   * Runs the collection, from `keep` to the last deletion, inside a lock of
   * the caller's: the containers' (ContainerStore.whileNoneRecorded), which a
   * planned run takes instead of the in-use lock while its record is made.
   */
  exclusive?: <T>(collect: () => Promise<T>) => Promise<T>;
}

export class PruneError extends RiboError {}

const INDEX_TYPES: readonly string[] = [MediaType.imageIndex, MediaType.dockerManifestList];

/** Blobs and diffIDs reachable from the entries of index.json that stay. */
async function reachable(store: Store, stays: (entry: Descriptor) => boolean, extraImages: Digest[]): Promise<{ blobs: Set<Digest>; diffIDs: Set<Digest> }> {
  const blobs = new Set<Digest>();
  const diffIDs = new Set<Digest>();
  const visit = async (descriptor: Descriptor, from: string): Promise<void> => {
    if (blobs.has(descriptor.digest)) return;
    blobs.add(descriptor.digest);
    if (!(await store.hasBlob(descriptor.digest))) return; // nothing below a missing blob to keep
    try {
      if (INDEX_TYPES.includes(descriptor.mediaType)) {
        const index = await store.readJSON<ImageIndex>(descriptor.digest);
        for (const child of index.manifests ?? []) await visit(child, from);
        return;
      }
      const manifest = await store.readJSON<ImageManifest>(descriptor.digest);
      if (!manifest.config) return;
      blobs.add(manifest.config.digest);
      for (const layer of manifest.layers ?? []) blobs.add(layer.digest);
      if (await store.hasBlob(manifest.config.digest)) {
        const config = await store.readJSON<ImageConfig>(manifest.config.digest);
        for (const diffID of config.rootfs?.diff_ids ?? []) diffIDs.add(diffID);
      }
    } catch (error) {
      if (!(error instanceof RiboError)) throw error;
      // Without the manifest we cannot tell what it needs: delete nothing.
      throw new PruneError(`Cannot tell what image ${from} needs (${error.message}) so prune deleted nothing. Remove that image with \`ribo rmi ${from}\` and prune again.`, { cause: error });
    }
  };
  for (const entry of (await store.indexEntries()).filter(stays)) {
    await visit(entry, entry.annotations?.['org.opencontainers.image.ref.name'] ?? entry.digest);
  }
  for (const digest of extraImages) {
    // No longer in index.json at all: the blob may be gone already, then nothing below it is kept.
    if (await store.hasBlob(digest)) await visit({ mediaType: MediaType.imageManifest, digest, size: 0 }, digest);
  }
  return { blobs, diffIDs };
}

async function treeSize(target: string): Promise<number> {
  const info = await fs.lstat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await fs.readdir(target).catch(() => [] as string[])) total += await treeSize(path.join(target, name));
  return total;
}

export async function pruneStore(store: Store, options: PruneOptions): Promise<PruneReport> {
  const exclusive = options.exclusive ?? ((collect) => collect());
  return store.withExclusiveUse(options.waitSeconds ?? 60, () => exclusive(() => collect(store, options)));
}

/** The collection itself, once the store is ours. */
async function collect(store: Store, options: PruneOptions): Promise<PruneReport> {
  const keep = await options.keep();
  // Untagged images go whatever refers to their blobs (the build cache keeps only those blobs), except those containers were made from.
  const used = new Set<Digest>((await options.keepImages?.()) ?? []);
  const dangling = (await store.indexEntries()).filter((entry) => isKeptUntagged(entry) && !used.has(entry.digest));
  const { blobs: liveBlobs, diffIDs: liveLayers } = await reachable(store, (entry) => !isKeptUntagged(entry) || used.has(entry.digest), [...used]);
  const images = await Promise.all(dangling.map(async (entry) => ({ digest: entry.digest, id: await imageIdOf(store, entry).catch(() => entry.digest) })));
  if (!options.dryRun) await store.forgetUntagged((entry) => !used.has(entry.digest));
  const report: PruneReport = { images, blobs: [], layers: [], freed: 0 };
  const layerSizes = new LayerSizes(store.root);
  for (const blob of await store.listBlobs()) {
    if (liveBlobs.has(blob.digest) || keep.has(blob.digest)) continue;
    if (!options.dryRun) await store.removeBlob(blob.digest);
    report.blobs.push(blob);
    report.freed += blob.size;
  }
  for (const diffID of await store.listUnpackedLayers()) {
    if (liveLayers.has(diffID) || keep.has(diffID)) continue;
    const size = await treeSize(store.layerDir(diffID));
    if (!options.dryRun) await store.removeUnpackedLayer(diffID);
    report.layers.push({ diffID, size });
    report.freed += size;
  }
  // The measured sizes `ribo images` keeps of layers no image uses any more (a few bytes each, not reported).
  if (!options.dryRun) {
    for (const diffID of await layerSizes.list()) if (!liveLayers.has(diffID) && !keep.has(diffID)) await layerSizes.remove(diffID);
  }
  return report;
}
