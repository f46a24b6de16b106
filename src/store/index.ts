export { Store, type ResolvedImage, type ImageSummary } from './store.js';
export type { BlobWriter } from './blob-writer.js';
export { dockerHubName, normalizeImageRef, resolveStoreRoot } from './ref.js';
export {
  AmbiguousImageError,
  BlobNotFoundError,
  CorruptBlobError,
  DigestMismatchError,
  ImageNotFoundError,
  InvalidImageRefError,
  StoreInUseError,
  StoreLayoutError,
  StoreLockTimeoutError,
  UnsupportedManifestError,
} from './errors.js';
