import { rename, rm } from 'node:fs/promises';
import { clampTreeMtimes, writeLayerFromUpperDir, type Compression } from '../layer/index.js';
import type { LayerRef } from '../image/layers.js';
import type { MountDriver } from '../runtime/overlay.js';
import { applyLayer } from '../layer/index.js';
import type { Store } from '../store/index.js';

export interface CommitOptions {
  /** Called every `progressIntervalMs` (default 250) with the layer bytes written so far: a long commit's progress. */
  onProgress?: (bytes: number) => void;
  progressIntervalMs?: number;
  sourceDateEpoch?: number;
  /** Layer blob compression; gzip when not given. */
  compression?: Compression;
}

const PROGRESS_INTERVAL_MS = 250;

/**
 * Turns an upper dir into a layer blob in the store and an unpacked layer dir.
 * The kernel overlay's upper dir already is a valid lower dir in the encoding
 * ribo keeps unpacked layers in, so it is moved into place rather than
 * unpacked again; fuse-overlayfs upper dirs may use .wh. files and are rebuilt
 * from the blob.
 */
export async function commitUpperDir(store: Store, driver: MountDriver, upperDir: string, opts: CommitOptions = {}): Promise<LayerRef> {
  const writer = await store.ingest();
  const progress = opts.onProgress && setInterval(() => opts.onProgress!(writer.bytesWritten), opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS);
  let layer;
  try {
    layer = await writeLayerFromUpperDir(upperDir, writer.stream, { compression: opts.compression ?? 'gzip', sourceDateEpoch: opts.sourceDateEpoch });
    await writer.commit({ digest: layer.digest, size: layer.size });
  } catch (error) {
    await writer.abort();
    throw error;
  } finally {
    clearInterval(progress);
  }
  const reuseUpper = driver.name === 'overlay';
  const dir = await store.ensureUnpacked(layer.diffID, async (tempDir) => {
    if (reuseUpper) {
      clampTreeMtimes(upperDir, opts.sourceDateEpoch);
      await rm(tempDir, { recursive: true, force: true });
      await rename(upperDir, tempDir);
    } else {
      await applyLayer(store.openBlob(layer.digest), tempDir, { mode: 'lower' });
    }
  });
  await rm(upperDir, { recursive: true, force: true });
  return {
    descriptor: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size },
    diffID: layer.diffID,
    dir,
  };
}
