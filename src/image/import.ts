import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { RiboError } from '../errors.js';
import { writeLayerFromTarStream, type Compression } from '../layer/index.js';
import { unpackLayer } from '../snapshot/index.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from '../oci/image.js';
import type { Store } from '../store/index.js';
import { DEFAULT_PATH, hostArchitecture } from './platform.js';
import type { Platform } from '../oci/image.js';
import { tagBesideOtherPlatforms } from './platform-tags.js';

export class ImportError extends RiboError {}

/**
 * Makes a one-layer image from a plain rootfs tarball (e.g. mmdebstrap's) and
 * tags it. The tarball is read twice: once validated, hashed and compressed into
 * the blob, once unpacked; the blob is committed only when both succeeded.
 */
export async function importRootfs(store: Store, tarball: string, ref: string, now = new Date(), compression: Compression = 'gzip', platform?: Platform, shownAs = tarball): Promise<Descriptor> {
  const info = await stat(tarball).catch(() => undefined);
  if (!info?.isFile()) throw new ImportError(`Cannot import ${shownAs}: no such file. Give the path of a rootfs tarball, e.g. one made by mmdebstrap --format=tar, or - to read it from stdin.`);
  const writer = await store.ingest();
  let layer;
  try {
    layer = await writeLayerFromTarStream(createReadStream(tarball), writer.stream, { compression });
    // Unpack from the tarball before the blob is committed: an archive that only
    // fails while being applied (a write through a symlink) then leaves no blob.
    await unpackLayer(store, layer.diffID, () => createReadStream(tarball));
    await writer.commit({ digest: layer.digest, size: layer.size });
  } catch (error) {
    await writer.abort();
    if (error instanceof RiboError) throw new ImportError(`Cannot import ${shownAs}: ${error.message}`, { cause: error });
    throw error;
  }
  const created = now.toISOString();
  const config: ImageConfig = {
    created,
    architecture: platform?.architecture ?? hostArchitecture(),
    os: platform?.os ?? 'linux',
    ...(platform?.variant ? { variant: platform.variant } : {}),
    config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [layer.diffID] },
    history: [{ created, created_by: `ribo import ${shownAs}`, comment: 'imported from a rootfs tarball' }],
  };
  const configDescriptor = await store.writeJSON(MediaType.imageConfig, config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.imageManifest,
    config: configDescriptor,
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
  };
  const manifestDescriptor = await store.writeJSON(MediaType.imageManifest, manifest);
  // For a platform named: one image of a multi-platform name, beside the others it has.
  if (platform) await tagBesideOtherPlatforms(store, ref, manifestDescriptor, platform);
  else await store.tag(ref, manifestDescriptor);
  return manifestDescriptor;
}
