/**
 * Images named by where they lie rather than by a store name, as skopeo and
 * podman spell them: `oci:DIR[:NAME]` (an OCI layout directory) and
 * `oci-archive:FILE[:NAME]`. They are loaded into the store by content,
 * without a tag, and then found by digest like any stored image.
 */
import type { Store } from '../store/index.js';
import { loadImages } from './archive/index.js';
import { ArchiveError } from './archive/errors.js';

const TRANSPORTS = ['oci:', 'oci-archive:'] as const;

export function isTransportRef(ref: string): boolean {
  return TRANSPORTS.some((prefix) => ref.startsWith(prefix));
}

/** `oci:DIR[:NAME]` → { location: DIR, name: NAME }: the path ends at the first colon, as skopeo splits it. */
export function parseTransportRef(ref: string): { transport: 'oci' | 'oci-archive'; location: string; name?: string } {
  const prefix = TRANSPORTS.find((p) => ref.startsWith(p));
  if (!prefix) throw new ArchiveError(`"${ref}" does not start with oci: or oci-archive:.`);
  const rest = ref.slice(prefix.length);
  const colon = rest.indexOf(':');
  const location = colon === -1 ? rest : rest.slice(0, colon);
  const name = colon === -1 ? undefined : rest.slice(colon + 1);
  if (!location) throw new ArchiveError(`"${ref}" names no ${prefix === 'oci:' ? 'directory' : 'file'}; write ${prefix}PATH[:NAME].`);
  return { transport: prefix === 'oci:' ? 'oci' : 'oci-archive', location, ...(name ? { name } : {}) };
}

/**
 * What store.resolveImage should look up for `ref`: `ref` itself, or for a
 * transport reference the digest of the image it names, loaded first.
 */
export async function storeRefFor(store: Store, ref: string): Promise<string> {
  if (!isTransportRef(ref)) return ref;
  const { transport, location, name } = parseTransportRef(ref);
  const result = await loadImages(store, location, { refName: name, tag: false });
  if (transport === 'oci' && result.format !== 'oci-layout') throw new ArchiveError(`${location} is not an OCI layout directory; for an archive file write oci-archive:${location}.`);
  if (transport === 'oci-archive' && result.format === 'oci-layout') throw new ArchiveError(`${location} is a directory; write oci:${location} for an OCI layout directory.`);
  if (result.images.length !== 1) {
    const names = result.images.flatMap((image) => image.refs);
    throw new ArchiveError(`${location} holds ${result.images.length} images; say which to run: ${transport}:${location}:NAME, where NAME is one of ${names.map((n) => `"${n}"`).join(', ') || '(none are named)'}.`);
  }
  return result.images[0]!.manifest.digest;
}
