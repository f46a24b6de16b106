/**
 * docker-archive: what `docker save` writes and `docker load` / `podman load`
 * read. manifest.json lists each image's config file, tags and layer files;
 * layers are plain (uncompressed) tars named by their diffID, as docker
 * writes them, so every docker and podman version reads them. Each layer is
 * decompressed once, into the store's tmp/, to learn its size.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaType, type Descriptor, type Digest, type ImageConfig, type ImageManifest } from '../../oci/image.js';
import { digestFromHash, digestHex, sha256Hasher, sha256Of } from '../../oci/digest.js';
import { tarChunks, writeLayerFromTarStream, type TarWriterEntry } from '../../layer/index.js';
import { decompressedLayer } from '../../layer/compression.js';
import { RiboError } from '../../errors.js';
import { assertConfigLimits, assertJsonBlobSize, type Store } from '../../store/index.js';
import { readArchiveJSON, type ArchiveFiles } from './archive-files.js';
import { blobContent, fileEntry, jsonBytes, storeBytes, type LoadedImage, type SaveItem } from './common.js';
import { ArchiveError } from './errors.js';

/** One element of manifest.json. */
interface DockerManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** The uncompressed bytes of a stored layer blob, verified against blob digest (by the store). */
function uncompressedLayer(store: Store, digest: Digest): AsyncGenerator<Buffer> {
  return decompressedLayer(store.openBlob(digest));
}

/**
 * A tar entry needs its size before its content, and a layer's uncompressed
 * size is not recorded: the layer is decompressed once into a scratch file
 * (its diffID checked on the way), which is then copied into the archive.
 */
async function spoolUncompressed(store: Store, descriptor: Descriptor, diffID: Digest, file: string): Promise<number> {
  const hash = sha256Hasher();
  let size = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of uncompressedLayer(store, descriptor.digest)) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }
  await pipeline(Readable.from(counted(), { objectMode: false }), createWriteStream(file));
  const actual = digestFromHash(hash);
  if (actual !== diffID) {
    throw new RiboError(`Layer ${descriptor.digest} in the image store decompresses to ${actual}, but the image config says ${diffID}. The store is damaged; rebuild the image.`);
  }
  return size;
}

async function* fileContent(file: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of createReadStream(file)) yield chunk as Buffer;
  } finally {
    await rm(file, { force: true });
  }
}

async function* dockerEntries(store: Store, items: readonly SaveItem[]): AsyncGenerator<TarWriterEntry> {
  const manifest: DockerManifestEntry[] = items.map(({ image, refs }) => ({
    Config: `${digestHex(image.manifest.config.digest)}.json`,
    RepoTags: refs.length ? refs : null,
    Layers: (image.config.rootfs?.diff_ids ?? []).map((diffID) => `${digestHex(diffID)}.tar`),
  }));
  const manifestBytes = jsonBytes(manifest);
  yield fileEntry('manifest.json', manifestBytes.length, () => [manifestBytes]);
  const written = new Set<string>();
  const scratch = await store.makeTempDir('save');
  try {
    yield* imageEntries(store, items, written, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function* imageEntries(store: Store, items: readonly SaveItem[], written: Set<string>, scratch: string): AsyncGenerator<TarWriterEntry> {
  for (const { image } of items) {
    const config = image.manifest.config;
    if (!written.has(config.digest)) {
      written.add(config.digest);
      yield fileEntry(`${digestHex(config.digest)}.json`, config.size, () => blobContent(store, config.digest));
    }
    const diffIDs = image.config.rootfs?.diff_ids ?? [];
    for (const [i, layer] of image.manifest.layers.entries()) {
      const diffID = diffIDs[i];
      if (!diffID) throw new RiboError(`Image ${image.ref ?? image.manifestDescriptor.digest} is inconsistent: layer ${i + 1} has no diff_id in its config. Rebuild it.`);
      if (written.has(diffID)) continue;
      written.add(diffID);
      const spooled = path.join(scratch, digestHex(diffID));
      const size = await spoolUncompressed(store, layer, diffID, spooled);
      yield fileEntry(`${digestHex(diffID)}.tar`, size, () => fileContent(spooled));
    }
  }
}

/** Streams a docker-archive of `items`. */
export function dockerArchiveChunks(store: Store, items: readonly SaveItem[]): AsyncGenerator<Buffer> {
  return tarChunks(dockerEntries(store, items));
}

/**
 * Brings the images of a docker-archive into the store: configs kept byte for
 * byte, layers re-compressed with gzip while their diffIDs are checked
 * against the config, a new OCI manifest per image. Tags are left to the caller.
 */
export async function loadDockerArchive(store: Store, files: ArchiveFiles): Promise<LoadedImage[]> {
  const { value: entries } = await readArchiveJSON<DockerManifestEntry[]>(files, 'manifest.json');
  if (!Array.isArray(entries)) throw new ArchiveError(`${files.name}: manifest.json is not a list of images; the archive is damaged.`);
  const layersByDiffID = new Map<Digest, Descriptor>();
  const loaded: LoadedImage[] = [];
  for (const entry of entries) {
    if (typeof entry?.Config !== 'string' || !Array.isArray(entry.Layers)) throw new ArchiveError(`${files.name}: an entry of manifest.json has no Config or Layers; the archive is damaged.`);
    const { value: config, bytes: configBytes } = await readArchiveJSON<ImageConfig>(files, entry.Config);
    assertJsonBlobSize({ digest: sha256Of(configBytes), size: configBytes.length }, 'config', `${files.name} (${entry.Config})`);
    assertConfigLimits(config, `${entry.RepoTags?.[0] ?? entry.Config} in ${files.name}`);
    const diffIDs = config.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== entry.Layers.length) {
      throw new ArchiveError(`${files.name}: ${entry.Config} lists ${diffIDs.length} layers but manifest.json ${entry.Layers.length}; the archive is damaged.`);
    }
    const layers: Descriptor[] = [];
    for (const [i, layerFile] of entry.Layers.entries()) {
      const diffID = diffIDs[i]!;
      const known = layersByDiffID.get(diffID) ?? (await importDockerLayer(store, files, layerFile, diffID));
      layersByDiffID.set(diffID, known);
      layers.push(known);
    }
    const configDigest = sha256Of(configBytes);
    await storeBytes(store, configBytes, configDigest);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.imageManifest,
      config: { mediaType: MediaType.imageConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    loaded.push({ manifest: await store.writeJSON(MediaType.imageManifest, manifest), refs: entry.RepoTags ?? [] });
  }
  return loaded;
}

/** One layer file (plain or compressed tar) into a gzip blob, its diffID checked before it is kept. */
async function importDockerLayer(store: Store, files: ArchiveFiles, layerFile: string, diffID: Digest): Promise<Descriptor> {
  const writer = await store.ingest();
  try {
    const source = await files.open(layerFile);
    const layer = await writeLayerFromTarStream(source as Readable, writer.stream, { compression: 'gzip' });
    if (layer.diffID !== diffID) {
      throw new ArchiveError(`${files.name}: layer ${layerFile} has content ${layer.diffID}, but the image config says ${diffID}; the archive is damaged or was altered. Nothing was loaded.`);
    }
    await writer.commit({ digest: layer.digest, size: layer.size });
    return { mediaType: layer.mediaType, digest: layer.digest, size: layer.size };
  } catch (error) {
    await writer.abort();
    if (error instanceof RiboError && !(error instanceof ArchiveError)) throw new ArchiveError(`${files.name}: layer ${layerFile}: ${error.message}`, { cause: error });
    throw error;
  }
}
