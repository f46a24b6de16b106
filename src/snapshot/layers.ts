/**
 * The store's unpacked layers, `layers/<diffID>/`: each made once, in the
 * encoding every snapshotter reads as a lower dir (whiteouts as 0/0 character
 * devices, opaque dirs as an xattr), and shared by every view over it.
 */
import { rename, rm } from 'node:fs/promises';
import { applyLayer, type ApplyLayerOptions } from '../layer/index.js';
import type { Descriptor, Digest } from '../oci/image.js';
import type { Store } from '../store/index.js';

/**
 * `layers/<diffID>/`, unpacked from the layer tar `open` gives (plain or
 * compressed) unless it is there already. The uncompressed bytes are hashed
 * as they are unpacked into a temp dir, which becomes `layers/<diffID>/` only
 * when they hash to `diffID` (DiffIDMismatchError otherwise): the diffID comes
 * from an image's config, which anyone can write, and the unpacked layer is
 * shared by every image and build that names the same diffID.
 * `what` names the layer in that error (its blob, the image). `beforePublish`,
 * when given, must resolve before the temp dir is renamed into place; when it
 * rejects, the temp dir is removed and nothing is published. `apply` is
 * applyLayer, or the same in a worker thread (layer/apply-worker.ts).
 */
export function unpackLayer(
  store: Store,
  diffID: Digest,
  open: () => NodeJS.ReadableStream | AsyncIterable<Buffer>,
  what?: string,
  beforePublish?: () => Promise<void>,
  apply: (input: NodeJS.ReadableStream | AsyncIterable<Buffer>, targetDir: string, opts: ApplyLayerOptions) => Promise<void> = applyLayer,
): Promise<string> {
  return store.ensureUnpacked(diffID, async (tempDir) => {
    await apply(open(), tempDir, { mode: 'lower', expectedDiffID: diffID, what: what ?? `Layer ${diffID}` });
    // A layer unpacked while its blob downloads waits here for the blob's digest check (image/layer-sink.ts).
    await beforePublish?.();
  });
}

/** `layers/<diffID>/` of a layer blob in the store; `imageName` is for the error of a layer that is not what the image says. */
export function unpackLayerBlob(store: Store, layer: { descriptor: Descriptor; diffID: Digest }, imageName?: string): Promise<string> {
  const what = `Layer ${layer.descriptor.digest}${imageName ? ` of image ${imageName}` : ''}`;
  return unpackLayer(store, layer.diffID, () => store.openBlob(layer.descriptor.digest), what);
}

/**
 * `layers/<diffID>/` from the upper dir of a view whose snapshotter's upper
 * dirs are lower dirs as they are (Capabilities.upperIsLowerDir): renamed
 * into place, no unpacking. The upper dir is gone afterwards either way.
 * Not checked against `diffID` as unpackLayer checks: the caller (build's
 * commit) computed that diffID itself from the tar it wrote from this very
 * upper dir, so it names this content and no image's claim is trusted.
 */
export async function adoptUpperDir(store: Store, diffID: Digest, upperDir: string): Promise<string> {
  const dir = await store.ensureUnpacked(diffID, async (tempDir) => {
    await rm(tempDir, { recursive: true, force: true });
    await rename(upperDir, tempDir);
  });
  await rm(upperDir, { recursive: true, force: true });
  return dir;
}
