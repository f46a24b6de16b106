/**
 * Which images of index.json an id names. An image has two digests: its
 * manifest's (the `Digest`, as registries name it) and its config's (the
 * image id docker and podman print). Both, and any prefix of either, name
 * it; a prefix naming two different images is ambiguous, unless those only
 * share one config (the same image stored twice, e.g. differently
 * compressed).
 */
import type { Descriptor, Digest } from '../oci/image.js';
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
