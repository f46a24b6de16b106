export { Store, type ResolvedImage, type ImageSummary, type ResolveOptions } from './store.js';
export type { BlobWriter } from './blob-writer.js';
export { resolveStoreRoot } from './root.js';
export { withStoreLock } from './lock.js';
export { imageIdOf } from './image-ids.js';
export { isKeptUntagged } from './index-file.js';
export { assertConfigLimits, ConfigLimitError, CONFIG_LIMITS } from './config-limits.js';
export {
  AmbiguousImageError,
  assertJsonBlobSize,
  BlobTooLargeError,
  JSON_BLOB_LIMITS,
  type JsonBlobKind,
  BlobNotFoundError,
  CorruptBlobError,
  DigestMismatchError,
  ImageNotFoundError,
  StoreInUseError,
  StoreLayoutError,
  StoreLockTimeoutError,
  UnsupportedManifestError,
  NoPlatformManifestError,
} from './errors.js';
