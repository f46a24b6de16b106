/**
 * Which images of index.json an id names. An image has two digests: its
 * manifest's (the `Digest`, as registries name it) and its config's (the
 * image id docker and podman print). Both, and any prefix of either, name
 * it; a prefix naming two different images is ambiguous, unless those only
 * share one config (the same image stored twice, e.g. differently
 * compressed).
 */
import { promises as fs } from 'node:fs';
import type { Descriptor, Digest, ImageManifest } from '../oci/image.js';
import { digestHex } from '../oci/digest.js';
import { AmbiguousImageError } from './errors.js';

/** An index.json entry with its config digest, when its manifest could be read. */
export interface IdentifiedEntry {
  entry: Descriptor;
  config?: Digest;
}

/** The entries `hexPrefix` names (every entry of the one image); [] when none. */
export function entriesNamedById(entries: IdentifiedEntry[], hexPrefix: string, asGiven: string): IdentifiedEntry[] {
  const byManifest = entries.filter((e) => digestHex(e.entry.digest).startsWith(hexPrefix));
  const byConfig = entries.filter((e) => e.config !== undefined && digestHex(e.config).startsWith(hexPrefix));
  const manifests = new Set(byManifest.map((e) => e.entry.digest));
  const configs = new Set(byConfig.map((e) => e.config!));
  if (manifests.size === 0 && configs.size === 1) return byConfig;
  if (manifests.size === 1 && configs.size === 0) return byManifest;
  if (manifests.size === 1 && configs.size === 1) {
    const [manifest] = manifests;
    // The manifest and the config digest of one image may share a short prefix.
    if (byConfig.every((e) => e.entry.digest === manifest)) return byManifest;
  }
  if (manifests.size === 0 && configs.size === 0) return [];
  throw new AmbiguousImageError(asGiven, [...new Set([...manifests, ...configs])]);
}

/** Does `hexPrefix` look like an id (rather than only a name)? Docker takes ids from 4 hex digits. */
export const HEX_ID = /^[0-9a-f]{4,64}$/;

/** What scanning for untagged manifests needs of the store. */
export interface BlobReader {
  listBlobs(): Promise<Array<{ digest: Digest; size: number }>>;
  blobPath(digest: Digest): string;
  readJSON<T>(digest: Digest, kind?: 'config' | 'manifest'): Promise<T>;
}

/** Image manifests are small; a blob larger than this is a layer or something else. */
const MANIFEST_SCAN_LIMIT = 64 * 1024;
const IMAGE_CONFIG_TYPES = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];

/**
 * The image manifests in blobs/ that no index.json entry names (`listed`):
 * images whose last tag was moved or removed, kept until `ribo prune`, as
 * docker keeps dangling images. Only small blobs starting with "{" are read.
 */
export async function untaggedManifests(store: BlobReader, listed: Set<Digest>): Promise<IdentifiedEntry[]> {
  const found: IdentifiedEntry[] = [];
  for (const blob of await store.listBlobs()) {
    if (blob.size > MANIFEST_SCAN_LIMIT || listed.has(blob.digest) || !(await startsWithBrace(store.blobPath(blob.digest)))) continue;
    const manifest = await store.readJSON<Partial<ImageManifest> & { artifactType?: string }>(blob.digest, 'manifest').catch(() => undefined);
    if (!manifest?.config || !IMAGE_CONFIG_TYPES.includes(manifest.config.mediaType) || !Array.isArray(manifest.layers) || manifest.artifactType) continue;
    const mediaType = manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
    found.push({ entry: { mediaType, digest: blob.digest, size: blob.size }, config: manifest.config.digest });
  }
  return found;
}

async function startsWithBrace(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1), 0, 1, 0);
    return bytesRead === 1 && buffer[0] === 0x7b;
  } finally {
    await handle.close();
  }
}

/**
 * The id docker and podman print for an image they built or loaded: its
 * config digest. An image index (a multi-platform image) has no config and
 * is named by its own digest.
 */
export async function imageIdOf(store: Pick<BlobReader, 'readJSON'>, manifest: Pick<Descriptor, 'digest'>): Promise<Digest> {
  const read = await store.readJSON<Partial<ImageManifest>>(manifest.digest, 'manifest');
  return read.config?.digest ?? manifest.digest;
}
