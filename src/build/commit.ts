import { rename, rm } from 'node:fs/promises';
import { clampTreeMtimes, compressUpperDir, upperDirDiffID, type Compression } from '../layer/index.js';
import type { Descriptor, Digest } from '../oci/image.js';
import type { LayerRef } from '../image/layers.js';
import { adoptUpperDir, unpackLayerBlob } from '../snapshot/index.js';
import type { Store } from '../store/index.js';
import { syncFileSystem } from '../files/sync.js';

export interface CommitOptions {
  /** The upper dir is a lower dir as it is (the snapshotter's Capabilities.upperIsLowerDir): it becomes layers/<diffID> by a rename. */
  upperIsLowerDir?: boolean;
  /** Called every `progressIntervalMs` (default 250) with the layer bytes written so far: a long commit's progress. */
  onProgress?: (bytes: number) => void;
  progressIntervalMs?: number;
  sourceDateEpoch?: number;
  /** Layer blob compression; gzip when not given. */
  compression?: Compression;
  /**
   * A layer this step may well reproduce (the last one made by the same
   * instruction at the same place): when the upper dir's diffID turns out equal
   * and the blob is in the store, that blob is the layer and nothing is compressed.
   */
  likely?: LayerBlob;
}

/** A layer blob in the store and the diffID of its tar. */
export interface LayerBlob {
  descriptor: Descriptor;
  diffID: Digest;
}

const PROGRESS_INTERVAL_MS = 250;

/**
 * Turns an upper dir into a layer blob in the store and an unpacked layer dir.
 * An upper dir that already is a valid lower dir (kernel overlay's) is moved
 * into place rather than unpacked again; others (fuse-overlayfs' may use .wh.
 * files) are unpacked from the blob.
 */
export async function commitUpperDir(store: Store, upperDir: string, opts: CommitOptions = {}): Promise<LayerRef> {
  const reuseUpper = opts.upperIsLowerDir ?? false;
  let synced: Promise<void> | undefined;
  if (reuseUpper) {
    // The tar records these same whole-second, clamped times, so clamping first changes no byte of the layer.
    clampTreeMtimes(upperDir, opts.sourceDateEpoch);
    // Build steps mount volatile overlays: the upper dir is written to the disk here, while it is compressed.
    synced = syncFileSystem(upperDir);
    synced.catch(() => undefined); // awaited below
  }
  const layer = (await reproducedLayer(store, upperDir, opts)) ?? (await writeLayerBlob(store, upperDir, opts));
  await synced;
  const dir = reuseUpper ? await adoptUpperDir(store, layer.diffID, upperDir) : await unpackLayerBlob(store, layer);
  await rm(upperDir, { recursive: true, force: true });
  return { descriptor: layer.descriptor, diffID: layer.diffID, dir };
}

/** A step's tree that is a lower dir already while its layer is made in the background. */
export interface StartedCommit {
  /** A pending dir in layers/ (Store.pendingLayerDir): the next steps mount it at once; adoptUpperDir (snapshot/layers.ts) names it by its diffID once no step mounts it. */
  dir: string;
  /** The layer blob in the store, once written and the tree is on the disk; rejects when that failed (nothing of it is then in the store). */
  blob: Promise<LayerBlob>;
}

/**
 * Commit off the critical path, for snapshotters whose upper dirs are lower
 * dirs as they are (kernel overlay). The upper dir is renamed to a pending
 * dir in layers/ and the next steps run over it at once. Meanwhile its tar is
 * made once, hashed for the diffID, compressed and written as the blob (or,
 * where the step likely made its last layer again, only hashed), and the tree
 * is synced to the disk. Once no step runs any more, the build gives the tree
 * its diffID's name with adoptUpperDir (which drops it where that dir exists).
 * The mtimes are clamped first: the next steps see the tree as the layer
 * records it.
 */
export async function startCommit(store: Store, upperDir: string, opts: CommitOptions = {}): Promise<StartedCommit> {
  clampTreeMtimes(upperDir, opts.sourceDateEpoch);
  const dir = store.pendingLayerDir();
  await rename(upperDir, dir);
  const blob = (async () => {
    // Build steps mount volatile overlays: the tree is written to the disk here, while it is compressed.
    const synced = syncFileSystem(dir);
    synced.catch(() => undefined); // awaited below
    const layer = (await reproducedLayer(store, dir, opts)) ?? (await writeLayerBlob(store, dir, opts));
    await synced;
    return layer;
  })();
  blob.catch(() => undefined); // the caller awaits it
  return { dir, blob };
}


/**
 * The likely layer, when the upper dir's tar has its diffID. Our gzip is
 * deterministic, so compressing the same tar again would give the same blob.
 */
async function reproducedLayer(store: Store, upperDir: string, opts: CommitOptions): Promise<LayerBlob | undefined> {
  const likely = opts.likely;
  if (!likely || !(await store.hasBlob(likely.descriptor.digest))) return undefined;
  const diffID = await upperDirDiffID(upperDir, { sourceDateEpoch: opts.sourceDateEpoch });
  return diffID === likely.diffID ? likely : undefined;
}

async function writeLayerBlob(store: Store, upperDir: string, opts: CommitOptions): Promise<LayerBlob> {
  const writer = await store.ingest();
  const progress = opts.onProgress && setInterval(() => opts.onProgress!(writer.bytesWritten), opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS);
  try {
    // The blob writer hashes what it stores: that digest is the blob's.
    const layer = await compressUpperDir(upperDir, writer.stream, { compression: opts.compression ?? 'gzip', sourceDateEpoch: opts.sourceDateEpoch });
    const { digest, size } = await writer.commit({ size: layer.size });
    return { descriptor: { mediaType: layer.mediaType, digest, size }, diffID: layer.diffID };
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    clearInterval(progress);
  }
}
