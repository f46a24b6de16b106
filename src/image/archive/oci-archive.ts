/**
 * oci-archive: a tar of an OCI image layout (oci-layout, index.json with one
 * entry per tag, ref.name annotations holding NAME:TAG as in the store, and
 * blobs/sha256/). Also reads plain layout directories, and archives that other
 * tools wrote (skopeo, buildah, podman, docker 25+).
 */
import { Annotation, MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest } from '../../oci/image.js';
import { assertDigest, digestHex, sha256Of } from '../../oci/digest.js';
import { tarChunks, type TarWriterEntry } from '../../layer/index.js';
import { assertConfigLimits, assertJsonBlobSize, type Store } from '../../store/index.js';
import { imageLayerRefs, verifyLayerDiffIDs } from '../layers.js';
import { hostArchitecture } from '../platform.js';
import { readArchiveJSON, type ArchiveFiles } from './archive-files.js';
import { blobContent, dirEntry, fileEntry, importBlob, importLayerBlobs, jsonBytes, storeBytes, type LoadedImage, type SaveItem } from './common.js';
import { ArchiveError } from './errors.js';

const INDEX_TYPES: readonly string[] = [MediaType.imageIndex, MediaType.dockerManifestList];
const MANIFEST_TYPES: readonly string[] = [MediaType.imageManifest, MediaType.dockerManifest];
/** Docker writes the full name here and only the tag in ref.name. */
const CONTAINERD_NAME = 'io.containerd.image.name';

/** The tar entries of an OCI layout holding `items`, each blob once. */
async function* layoutEntries(store: Store, items: readonly SaveItem[]): AsyncGenerator<TarWriterEntry> {
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [] };
  for (const { image, refs, index: whole } of items) {
    const top = whole?.descriptor ?? image.manifestDescriptor;
    const descriptor: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.size };
    if (refs.length === 0) index.manifests.push(descriptor);
    for (const ref of refs) index.manifests.push({ ...descriptor, annotations: { [Annotation.refName]: ref } });
  }
  const layout = jsonBytes({ imageLayoutVersion: '1.0.0' });
  yield fileEntry('oci-layout', layout.length, () => [layout]);
  const indexBytes = jsonBytes(index);
  yield fileEntry('index.json', indexBytes.length, () => [indexBytes]);
  yield dirEntry('blobs');
  yield dirEntry('blobs/sha256');
  const written = new Set<string>();
  for (const { image, index: whole } of items) {
    const images = whole?.images ?? [image];
    const blobs = [...(whole ? [whole.descriptor] : []), ...images.flatMap((one) => [one.manifestDescriptor, one.manifest.config, ...one.manifest.layers])];
    for (const blob of blobs) {
      if (written.has(blob.digest)) continue;
      written.add(blob.digest);
      yield fileEntry(`blobs/sha256/${digestHex(blob.digest)}`, blob.size, () => blobContent(store, blob.digest));
    }
  }
}

/** Streams an oci-archive of `items`; blobs are copied byte for byte, so every digest is kept. */
export function ociArchiveChunks(store: Store, items: readonly SaveItem[]): AsyncGenerator<Buffer> {
  return tarChunks(layoutEntries(store, items));
}

function blobPath(files: ArchiveFiles, descriptor: Descriptor): string {
  try {
    return `blobs/sha256/${digestHex(assertDigest(descriptor.digest, `${files.name}: a descriptor`))}`;
  } catch (error) {
    throw new ArchiveError((error as Error).message);
  }
}

/** The name an index entry gives its image, normalized by the caller. */
export function refNameOf(descriptor: Descriptor): string | undefined {
  return descriptor.annotations?.[CONTAINERD_NAME] ?? descriptor.annotations?.[Annotation.refName];
}

async function readVerifiedJSON<T>(files: ArchiveFiles, descriptor: Descriptor): Promise<{ value: T; bytes: Buffer }> {
  const file = blobPath(files, descriptor);
  const read = await readArchiveJSON<T>(files, file);
  const actual = sha256Of(read.bytes);
  if (actual !== descriptor.digest) {
    throw new ArchiveError(`${files.name}: ${file} hashes to ${actual}, not ${descriptor.digest} as index.json says; the archive is damaged. Nothing was loaded.`);
  }
  return read;
}

/**
 * The images of an index entry to load: every one it lists when the archive
 * holds them all (a multi-platform image, kept whole), else the one for this
 * machine (docker's archives of multi-platform images list every platform
 * but hold only the blobs of the one it had).
 */
async function indexImages(files: ArchiveFiles, descriptor: Descriptor): Promise<{ whole?: Buffer; manifests: Descriptor[] }> {
  const { value: index, bytes } = await readVerifiedJSON<ImageIndex>(files, descriptor);
  const images = (index.manifests ?? []).filter((entry) => MANIFEST_TYPES.includes(entry.mediaType));
  let complete = images.length > 0 && images.length === (index.manifests ?? []).length;
  for (const entry of images) if (complete && !(await files.has(blobPath(files, entry)))) complete = false;
  if (complete) return { whole: bytes, manifests: images };
  const arch = hostArchitecture();
  const match = images.find((entry) => !entry.platform || (entry.platform.os === 'linux' && entry.platform.architecture === arch));
  if (!match) throw new ArchiveError(`${files.name}: the image index ${descriptor.digest} has no manifest for linux/${arch} whose blobs the archive holds.`);
  return { manifests: [match] };
}

/** The index.json entries to load: all of them, or those named `refName`. */
async function selectEntries(files: ArchiveFiles, refName: string | undefined, normalize: (ref: string) => string): Promise<Descriptor[]> {
  if (!(await files.has('index.json'))) throw new ArchiveError(`${files.name} has no index.json, so it is not an OCI image layout.`);
  const { value: index } = await readArchiveJSON<ImageIndex>(files, 'index.json');
  if (!Array.isArray(index.manifests)) throw new ArchiveError(`${files.name}: index.json has no "manifests" list; the layout is damaged.`);
  if (refName === undefined) return index.manifests;
  const names = index.manifests.map((entry) => refNameOf(entry)).filter((name): name is string => name !== undefined);
  const wanted = index.manifests.filter((entry) => {
    const name = refNameOf(entry);
    return name !== undefined && (name === refName || entry.annotations?.[Annotation.refName] === refName || safeNormalize(name, normalize) === safeNormalize(refName, normalize));
  });
  if (wanted.length === 0) {
    throw new ArchiveError(`${files.name} has no image named "${refName}"; it has ${names.length ? names.map((n) => `"${n}"`).join(', ') : 'no named images'}.`);
  }
  return wanted.slice(0, 1);
}

function safeNormalize(ref: string, normalize: (ref: string) => string): string | undefined {
  try {
    return normalize(ref);
  } catch {
    return undefined;
  }
}

/**
 * Copies the images of an OCI layout (directory or archive) into the store,
 * every blob verified against its digest; returns them with their names.
 * Tags are left to the caller, to be set once everything is in.
 */
export async function loadOciLayout(store: Store, files: ArchiveFiles, options: { refName?: string; normalize: (ref: string) => string }): Promise<LoadedImage[]> {
  const loaded = new Map<string, LoadedImage>();
  for (const entry of await selectEntries(files, options.refName, options.normalize)) {
    const images = INDEX_TYPES.includes(entry.mediaType) ? await indexImages(files, entry) : { manifests: [entry] };
    let top: Descriptor | undefined;
    for (const manifestDescriptor of images.manifests) top = await loadManifest(store, files, entry, manifestDescriptor);
    if (images.whole) {
      await storeBytes(store, images.whole, entry.digest);
      top = { mediaType: entry.mediaType, digest: entry.digest, size: images.whole.length };
    }
    const image = loaded.get(top!.digest) ?? { manifest: top!, refs: [] };
    const name = refNameOf(entry);
    if (name !== undefined && !image.refs.includes(name)) image.refs.push(name);
    loaded.set(top!.digest, image);
  }
  return [...loaded.values()];
}

/** Copies one image (manifest, config, layers) from the layout into the store; returns its manifest's descriptor. */
async function loadManifest(store: Store, files: ArchiveFiles, entry: Descriptor, manifestDescriptor: Descriptor): Promise<Descriptor> {
  if (!MANIFEST_TYPES.includes(manifestDescriptor.mediaType)) {
    throw new ArchiveError(`${files.name}: index.json lists ${manifestDescriptor.digest} of media type ${manifestDescriptor.mediaType}, which is not an image manifest ribo can load.`);
  }
  assertJsonBlobSize(manifestDescriptor, 'manifest', files.name);
  const { value: manifest, bytes } = await readVerifiedJSON<ImageManifest>(files, manifestDescriptor);
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new ArchiveError(`${files.name}: manifest ${manifestDescriptor.digest} has no config or layers; it is not an image manifest.`);
  // Before any blob is stored: a config the store would refuse to read makes an image no command can use.
  assertJsonBlobSize(manifest.config, 'config', files.name);
  const where = `${refNameOf(entry) ?? manifestDescriptor.digest} in ${files.name}`;
  assertConfigLimits((await readVerifiedJSON<ImageConfig>(files, manifest.config)).value, where);
  // The config first: its diffIDs are what each layer is checked against while it is copied.
  await importBlob(store, files, manifest.config, blobPath(files, manifest.config));
  const config = await store.readJSON<ImageConfig>(manifest.config.digest, 'config', where);
  const checked = await importLayerBlobs(store, files, imageLayerRefs(manifest, config, where), (blob) => blobPath(files, blob), where);
  await verifyLayerDiffIDs(store, manifest, config, where, { checked });
  await storeBytes(store, bytes, manifestDescriptor.digest);
  return { mediaType: manifestDescriptor.mediaType, digest: manifestDescriptor.digest, size: bytes.length };
}
