import { RiboError } from '../errors.js';
import type { Digest } from '../oci/image.js';

/** A blob the caller expected is not in the store. */
export class BlobNotFoundError extends RiboError {
  constructor(readonly digest: Digest, readonly path: string) {
    super(
      `Blob ${digest} is not in the image store (expected at ${path}). ` +
        `The image that refers to it is incomplete; rebuild or re-import it, or remove its tag with \`ribo rmi\`.`,
    );
  }
}

/** Bytes written or read do not hash to the digest (or size) they were supposed to have. */
export class DigestMismatchError extends RiboError {
  constructor(
    readonly expected: { digest?: Digest; size?: number },
    readonly actual: { digest: Digest; size: number },
    context: string,
  ) {
    const want = [expected.digest, expected.size === undefined ? undefined : `${expected.size} bytes`]
      .filter((part) => part !== undefined)
      .join(', ');
    super(
      `${context}: expected ${want} but the content is ${actual.digest}, ${actual.size} bytes. ` +
        `The data was truncated or altered on the way in; nothing was stored. Fetch or produce the content again.`,
    );
  }
}

/** A stored blob no longer matches its own name: the disk content was damaged. */
export class CorruptBlobError extends RiboError {
  constructor(readonly digest: Digest, readonly path: string, detail: string) {
    super(
      `Blob ${digest} at ${path} is corrupt (${detail}). ` +
        `Delete that file and rebuild or re-import the images that use it.`,
    );
  }
}

/** No image answers to a name, digest or digest prefix. */
export class ImageNotFoundError extends RiboError {
  constructor(readonly ref: string, root: string, byDigest = false) {
    super(
      `No image "${ref}" in the image store at ${root}. Run \`ribo images\` to list what exists` +
        (byDigest ? ', and give a tag or a longer digest from that list.' : `, or build it first with \`ribo build -t ${ref} .\`.`),
    );
  }
}

/** A digest prefix matched more than one image. */
export class AmbiguousImageError extends RiboError {
  constructor(readonly prefix: string, readonly matches: Digest[]) {
    super(
      `"${prefix}" matches ${matches.length} images (${matches.join(', ')}). ` +
        `Give more digits of the digest, or use the image's name.`,
    );
  }
}

/** The store directory is not something ribo can use. */
export class StoreLayoutError extends RiboError {
  constructor(readonly root: string, detail: string) {
    super(`The image store at ${root} cannot be used: ${detail}. Point --root (or RIBO_ROOT) at another directory, or repair the file named above.`);
  }
}

/** Another process has held the store lock for too long. */
export class StoreLockTimeoutError extends RiboError {
  constructor(readonly lockPath: string, seconds: number) {
    super(
      `Waited ${seconds}s for the image store lock ${lockPath} held by another ribo process. ` +
        `Wait for that process to finish (see \`fuser ${lockPath}\`), then retry.`,
    );
  }
}

/** The manifest is a kind ribo cannot use as a single image. */
export class UnsupportedManifestError extends RiboError {
  constructor(readonly digest: Digest, mediaType: string) {
    super(
      `Manifest ${digest} has media type ${mediaType}, which ribo cannot use as an image. ` +
        `Tag a single-platform image manifest (${'application/vnd.oci.image.manifest.v1+json'}) instead.`,
    );
  }
}

/** Other ribo processes kept the store in use for too long (prune waits for them). */
export class StoreInUseError extends RiboError {
  constructor(readonly root: string, seconds: number, waiting: 'open' | 'prune') {
    super(
      waiting === 'prune'
        ? `Waited ${seconds}s for other ribo processes using the image store at ${root} (builds, loads, containers being started) to finish; \`ribo prune\` deletes nothing while they run. ` +
            `Let them finish (see \`fuser ${root}/in-use.lock\`), then run prune again.`
        : `Waited ${seconds}s to open the image store at ${root} while \`ribo prune\` was cleaning it. Wait for the prune to finish (see \`fuser ${root}/in-use.lock\`), then retry.`,
    );
  }
}

/** The most ribo reads into memory of an image's config, and of a manifest or index (docker's limits are alike). */
export const JSON_BLOB_LIMITS = { config: 8 * 1024 * 1024, manifest: 4 * 1024 * 1024 } as const;
export type JsonBlobKind = keyof typeof JSON_BLOB_LIMITS;

/** A config, manifest or index is larger than ribo reads into memory. */
export class BlobTooLargeError extends RiboError {
  constructor(readonly digest: Digest, readonly kind: JsonBlobKind, readonly size: number, where: string) {
    super(
      `${where}: the ${kind === 'config' ? 'image config' : 'manifest'} ${digest} is ${size} bytes, more than the ${JSON_BLOB_LIMITS[kind]} bytes ribo reads of one. ` +
        `Such an image is refused; rebuild it with a smaller config (fewer or shorter labels, history, environment), or remove its tag with \`ribo rmi\`.`,
    );
  }
}

/** Refuses a descriptor of a config or manifest larger than JSON_BLOB_LIMITS, before it is fetched or stored. */
export function assertJsonBlobSize(descriptor: { digest: Digest; size: number }, kind: JsonBlobKind, where: string): void {
  if (descriptor.size > JSON_BLOB_LIMITS[kind]) throw new BlobTooLargeError(descriptor.digest, kind, descriptor.size, where);
}

/** The image (an index, or one manifest) has nothing for the platform asked for. */
export class NoPlatformManifestError extends RiboError {
  constructor(readonly ref: string, readonly wanted: string, readonly offered: string[], explicit: boolean) {
    super(
      `Image "${ref}" has no manifest for ${wanted}${explicit ? '' : ' (this machine\'s platform)'}; it has ${offered.join(', ') || 'no platform at all'}. ` +
        (explicit
          ? `Ask for one of those with --platform, or build or pull the image for ${wanted} (\`ribo build --platform ${wanted}\`, \`ribo pull --platform ${wanted}\`).`
          : `Run it with --platform naming one of those (emulated when foreign), or build or pull it for ${wanted}.`),
    );
  }
}
