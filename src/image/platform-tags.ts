/** Several platforms under one name: the name then tags an image index of them. */
import { MediaType, type Descriptor, type ImageIndex, type Platform } from '../oci/image.js';
import { configPlatform, samePlatform } from '../oci/platform.js';
import { ImageNotFoundError, type Store } from '../store/index.js';

/**
 * Tag `manifest`, an image for `platform`, as `ref` beside the other
 * platforms `ref` has: `ref` then names an image index of them all (this
 * image replacing one of the same platform). A `ref` that did not exist, or
 * named only this platform, names the image itself.
 */
export async function tagBesideOtherPlatforms(store: Store, ref: string, manifest: Descriptor, platform: Platform): Promise<void> {
  const others: Descriptor[] = [];
  const current = await store.resolveImage(ref, { wholeIndex: true }).catch((error: unknown) => {
    if (error instanceof ImageNotFoundError) return undefined;
    throw error;
  });
  if (current?.index) others.push(...current.index.index.manifests.filter((m) => !m.platform || !samePlatform(m.platform, platform)));
  else if (current && current.config.architecture && !samePlatform(configPlatform(current.config), platform)) {
    const { mediaType, digest, size } = current.manifestDescriptor;
    others.push({ mediaType, digest, size, platform: configPlatform(current.config) });
  }
  if (others.length === 0) return store.tag(ref, manifest);
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.imageIndex,
    manifests: [...others, { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform }],
  };
  await store.tag(ref, await store.writeJSON(MediaType.imageIndex, index));
}
