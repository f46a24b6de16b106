/** What save and load share: the images to write, tar entries for blobs, verified blob copies. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { RiboError } from '../../errors.js';
import type { Descriptor, Digest } from '../../oci/image.js';
import type { TarWriterEntry } from '../../layer/index.js';
import { DigestMismatchError, type ResolvedImage, type Store } from '../../store/index.js';
import { ArchiveError } from './errors.js';
import { openLayerSink } from '../layer-sink.js';
import { layerClaimKey, type LayerRef } from '../layers.js';
import { eachLimited } from '../../files/each-limited.js';
import type { ArchiveFiles } from './archive-files.js';

/** Layers imported at once: each one's decompression and hashes on a core of a two-core machine. */
const LAYER_IMPORTS_AT_ONCE = 2;

/** One image to save, with the tags it is saved under (none when named by digest). */
export interface SaveItem {
  image: ResolvedImage;
  refs: string[];
  /** Saved whole, as an image index with every image it lists (oci-archive of a multi-platform image). */
  index?: { descriptor: Descriptor; images: ResolvedImage[] };
}

/** An image brought into the store, with the names the archive gave it. */
export interface LoadedImage {
  manifest: Descriptor;
  refs: string[];
}

/** Fixed metadata for entries of archives ribo writes, so the same images give the same bytes. */
export function fileEntry(name: string, size: number, content: () => AsyncIterable<Buffer> | Iterable<Buffer>): TarWriterEntry {
  return { path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0, content };
}

export function dirEntry(name: string): TarWriterEntry {
  return { path: `${name}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 };
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** A store blob as an async iterable, verified against its digest as it is read. */
export async function* blobContent(store: Store, digest: Digest): AsyncGenerator<Buffer> {
  for await (const chunk of store.openBlob(digest)) yield chunk as Buffer;
}

/**
 * Copies one blob from an archive into the store, verified against its
 * descriptor while it streams; nothing is stored when the bytes are wrong.
 */
export async function importBlob(store: Store, files: ArchiveFiles, descriptor: Descriptor, archivePath: string, tap?: Writable): Promise<void> {
  if (await store.hasBlob(descriptor.digest)) return;
  const writer = await store.ingest();
  try {
    const source = await files.open(archivePath);
    for await (const chunk of source) {
      // once() rejects when the writer fails (a full disk) instead of waiting for a drain that never comes.
      if (!writer.stream.write(chunk as Buffer)) await once(writer.stream, 'drain');
      if (tap && !tap.write(chunk)) await once(tap, 'drain');
    }
    tap?.end();
    await writer.commit({ digest: descriptor.digest, size: descriptor.size });
  } catch (error) {
    await writer.abort();
    if (error instanceof DigestMismatchError) {
      throw new ArchiveError(`${files.name}: ${archivePath} does not match its digest (${error.message.split(': ').slice(1).join(': ')}) Nothing was loaded.`, { cause: error });
    }
    if (error instanceof RiboError) throw new ArchiveError(`${files.name}: ${error.message}`, { cause: error });
    throw error;
  }
}

/**
 * Imports the layers of an image from an archive, checking each one's diffID
 * on the same pass as its digest, as a pull does (image/layer-sink.ts): the
 * blob is not read a second time, and its decompression overlaps the copy,
 * two layers at a time. Returns the claims checked (layerClaimKey); a layer
 * the store had already is left to verifyLayerDiffIDs.
 */
export async function importLayerBlobs(store: Store, files: ArchiveFiles, layers: readonly LayerRef[], pathOf: (descriptor: Descriptor) => string, imageName: string): Promise<Set<string>> {
  const checked = new Set<string>();
  // Each blob once (a second claim on it is left to verifyLayerDiffIDs).
  const queue = layers.filter((layer, i) => layers.findIndex((l) => l.descriptor.digest === layer.descriptor.digest) === i);
  const importOne = async (layer: LayerRef) => {
    if (await store.hasBlob(layer.descriptor.digest)) return;
    // A foreign layer (urls) is stored if the archive has it, and not checked, as verifyLayerDiffIDs leaves it.
    if (layer.descriptor.urls?.length) return importBlob(store, files, layer.descriptor, pathOf(layer.descriptor));
    const sink = await openLayerSink(store, layer, { unpack: false, what: `Layer ${layer.descriptor.digest} of image ${imageName}` });
    await importBlob(store, files, layer.descriptor, pathOf(layer.descriptor), sink.input).catch(async (error: Error) => {
      await sink.abort(error);
      throw error;
    });
    sink.verified();
    await sink.done;
    checked.add(layerClaimKey(layer.descriptor.digest, layer.diffID));
  };
  // A failure stops the other lane taking more, and is thrown once that lane is done: nothing is left being written.
  await eachLimited(queue, LAYER_IMPORTS_AT_ONCE, importOne);
  return checked;
}

/** Stores bytes already checked against `digest` (a manifest or config read from an archive). */
export async function storeBytes(store: Store, bytes: Buffer, digest: Digest): Promise<void> {
  if (await store.hasBlob(digest)) return;
  const writer = await store.ingest();
  writer.stream.write(bytes);
  await writer.commit({ digest, size: bytes.length });
}
