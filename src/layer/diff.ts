/** The layer operations the build engine and the store use: commit, import, unpack. */
import { digestFromHash, sha256Hasher } from '../oci/digest.js';
import type { Digest } from '../oci/image.js';
import { archivePathParts } from './paths.js';
import { compressLayer, decompressedLayer, writeCompressedLayer, type CompressedLayer, type Compression, type LayerDigests } from './compression.js';
import { LayerApplier, type ApplyMode } from './apply.js';
import { readTar, type TarEntry } from './tar-reader.js';
import { tarChunks } from './tar-writer.js';
import { upperDirEntries } from './upper-dir.js';
import { DiffIDMismatchError } from './errors.js';

export interface WriteFromUpperDirOptions {
  compression: Compression;
  /** Clamp mtimes to this (seconds since the epoch) for reproducible builds. */
  sourceDateEpoch?: number;
}

/**
 * Walks an overlay upper dir and writes it as an OCI layer to `out` (which is ended).
 * diffID, digest and size are computed in the same streaming pass.
 */
export function writeLayerFromUpperDir(upperDir: string, out: NodeJS.WritableStream, opts: WriteFromUpperDirOptions): Promise<LayerDigests> {
  const entries = upperDirEntries(upperDir, { sourceDateEpoch: opts.sourceDateEpoch });
  return writeCompressedLayer(tarChunks(entries), out, opts.compression);
}

/**
 * Like writeLayerFromUpperDir, for an `out` that hashes what it stores (the
 * store's blob writer, whose digest is then the blob's): nothing is hashed twice.
 */
export function compressUpperDir(upperDir: string, out: NodeJS.WritableStream, opts: WriteFromUpperDirOptions): Promise<CompressedLayer> {
  return compressLayer(tarChunks(upperDirEntries(upperDir, { sourceDateEpoch: opts.sourceDateEpoch })), out, opts.compression);
}

/**
 * The diffID an upper dir's layer would have: the tar is generated and hashed
 * but not compressed or written, which costs a small part of a gzip commit.
 */
export async function upperDirDiffID(upperDir: string, opts: { sourceDateEpoch?: number } = {}): Promise<Digest> {
  const hash = sha256Hasher();
  for await (const chunk of tarChunks(upperDirEntries(upperDir, { sourceDateEpoch: opts.sourceDateEpoch }))) hash.update(chunk);
  return digestFromHash(hash);
}

/** The checks an archive must pass to be stored as a layer: every path must stay inside the root. */
function validateEntry(entry: TarEntry): void {
  archivePathParts(entry.path);
  if (entry.type === 'hardlink') archivePathParts(entry.linkTarget ?? '', `${entry.path} (hardlink target "${entry.linkTarget ?? ''}")`);
}

/**
 * Re-writes a plain or gzip tar stream (e.g. a rootfs tarball) as a layer blob. The
 * archive is parsed while it streams through, so a truncated, corrupt or unsafe
 * archive is rejected; the tar bytes themselves are kept as they are.
 */
export function writeLayerFromTarStream(input: NodeJS.ReadableStream, out: NodeJS.WritableStream, opts: { compression: Compression }): Promise<LayerDigests> {
  async function* validatedTar(): AsyncGenerator<Buffer> {
    const seen: Buffer[] = [];
    for await (const entry of readTar(decompressedLayer(input), { onSourceChunk: (chunk) => seen.push(chunk) })) {
      validateEntry(entry);
      for await (const _ of entry.content) {
        while (seen.length > 0) yield seen.shift()!;
      }
      while (seen.length > 0) yield seen.shift()!;
    }
    while (seen.length > 0) yield seen.shift()!;
  }
  return writeCompressedLayer(validatedTar(), out, opts.compression);
}

export interface ApplyLayerOptions {
  mode: ApplyMode;
  /** Refuse the layer (DiffIDMismatchError, after unpacking into targetDir) unless its uncompressed bytes hash to this. */
  expectedDiffID?: Digest;
  /** The layer as the error names it, e.g. `Layer sha256:… of image NAME`. */
  what?: string;
}

/**
 * Unpacks a layer blob (gzip or plain, told apart by magic bytes) into targetDir.
 * 'lower': targetDir is empty and becomes an overlay lower dir (whiteouts as 0/0
 * devices, opaque dirs as user.overlay.opaque=y). 'merge': the layer is applied onto
 * the existing tree (whiteouts delete, opaque dirs drop what lower layers had there).
 * On error targetDir is left partly written; nothing outside it is touched.
 */
export async function applyLayer(input: NodeJS.ReadableStream | AsyncIterable<Buffer>, targetDir: string, opts: ApplyLayerOptions): Promise<void> {
  const applier = new LayerApplier(targetDir, opts.mode);
  const diffHash = opts.expectedDiffID ? sha256Hasher() : undefined;
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of decompressedLayer(input)) {
      diffHash?.update(chunk);
      yield chunk;
    }
  }
  try {
    // readTar reads on to the end of the stream (padding after the end marker too), so every byte is hashed.
    for await (const entry of readTar(hashed())) await applier.apply(entry);
    await applier.finish();
    if (diffHash && opts.expectedDiffID) {
      const actual = digestFromHash(diffHash);
      if (actual !== opts.expectedDiffID) throw new DiffIDMismatchError(opts.expectedDiffID, actual, opts.what ?? 'A layer');
    }
  } catch (error) {
    applier.abandon();
    throw error;
  }
}

/**
 * Unpacks a tar archive (plain, gzip or zstd) as ADD does, into the container path
 * `dest` of the root `rootDir`: Docker's untar rules ('archive' mode of LayerApplier),
 * PAX global headers skipped as Go's archive/tar skips them.
 */
export async function unpackArchive(input: AsyncIterable<Buffer> | NodeJS.ReadableStream, rootDir: string, dest: string): Promise<void> {
  const applier = new LayerApplier(rootDir, 'archive', dest.split('/').filter((part) => part !== '' && part !== '.'));
  try {
    for await (const entry of readTar(decompressedLayer(input), { ignoreGlobalPax: true })) await applier.apply(entry);
    await applier.finish();
  } catch (error) {
    applier.abandon();
    throw error;
  }
}
