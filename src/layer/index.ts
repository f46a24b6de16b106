/** Public API of ribo's layer formats: OCI layer tars from overlay upper dirs and back. */
export { writeLayerFromUpperDir, compressUpperDir, upperDirDiffID, writeLayerFromTarStream, applyLayer, unpackArchive, type ApplyLayerOptions, type WriteFromUpperDirOptions } from './diff.js';
export { LayerUnpackWorker } from './apply-worker.js';
export { COMPRESSIONS, createLayerGunzip, gzipCompressor, type GzipCompressor, uncompressedDigest, type Compression, type CompressedLayer, type LayerDigests } from './compression.js';
export type { ApplyMode } from './apply.js';
export { readTar, type TarEntry } from './tar-reader.js';
export { clampTreeMtimes } from './mtimes.js';
export { tarChunks, encodeTarHeader, type TarWriterEntry } from './tar-writer.js';
export type { TarHeader, TarEntryType } from './tar-entry.js';
export {
  LayerError,
  TruncatedArchiveError,
  CorruptArchiveError,
  UnsupportedArchiveError,
  UnsafePathError,
  EntryConflictError,
  UnsupportedUpperDirError,
  SourceChangedError,
  LayerToolError,
  DiffIDMismatchError,
  UnpackWorkerError,
} from './errors.js';
