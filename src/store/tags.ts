/** The names index.json gives images (tags, and `<none>` entries that keep untagged images listed), changed only under the store lock. */
import { Annotation, MediaType, type Descriptor, type Digest, type ImageIndex, type ImageManifest } from '../oci/image.js';
import { normalizeImageRef } from '../oci/reference.js';
import type { BlobStore } from './blobs.js';
import { assertJsonBlobSize, BlobNotFoundError } from './errors.js';
import { IndexFile, isKeptUntagged, keepDangling, namedAs, RECEIVED_ANNOTATION, untaggedEntry } from './index-file.js';
import { LOCK_TIMEOUT_SECONDS, type StoreLayout } from './layout.js';
import { withStoreLock } from './lock.js';

/** The media types of a single image's manifest. */
export const MANIFEST_TYPES: readonly string[] = [MediaType.imageManifest, MediaType.dockerManifest];

export class ImageTags {
  constructor(
    private readonly layout: StoreLayout,
    private readonly blobs: BlobStore,
  ) {}

  /** index.json as it is now. */
  readIndex(): Promise<ImageIndex> {
    return this.indexFile.read();
  }

  /** Read-modify-write index.json under the store lock, replacing it atomically. */
  private updateIndex<T>(change: (index: ImageIndex) => T): Promise<T> {
    return withStoreLock(this.layout.lockPath, LOCK_TIMEOUT_SECONDS, () => this.indexFile.update(change));
  }

  private get indexFile(): IndexFile {
    return new IndexFile(this.layout.root, this.layout.indexPath, () => this.layout.ingestPath('index'));
  }

  /**
   * Point `ref` at `manifest`, replacing what it pointed at before. index.json
   * names it in the familiar form ("hello:latest", "localhost/app:1"); an entry
   * spelling the same name otherwise ("docker.io/library/hello:latest", from
   * an earlier ribo) is replaced too.
   */
  async tag(ref: string, manifest: Descriptor): Promise<void> {
    const name = normalizeImageRef(ref);
    const listed = new Set(await this.assertComplete(manifest));
    const before = await this.readIndex();
    // The first time this store got the image, kept across its tags: `ribo images` shows it for reproducible images dated 1970.
    const received = before.manifests.find((e) => e.digest === manifest.digest && e.annotations?.[RECEIVED_ANNOTATION])?.annotations?.[RECEIVED_ANNOTATION];
    const entry: Descriptor = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.size,
      ...(manifest.platform ? { platform: manifest.platform } : {}),
      annotations: { ...manifest.annotations, [Annotation.refName]: name, [RECEIVED_ANNOTATION]: received ?? new Date().toISOString() },
    };
    // A rebuild that changed nothing tags the same manifest again: leave index.json (and its lock) alone then.
    const current = before.manifests.filter(namedAs(name));
    if (current.length === 1 && JSON.stringify(current[0]) === JSON.stringify(entry)) return;
    await this.updateIndex((index) => {
      const moved = index.manifests.filter(namedAs(name));
      index.manifests = index.manifests.filter((existing) => !namedAs(name)(existing) && !(existing.digest === entry.digest && isKeptUntagged(existing)));
      index.manifests.push(entry);
      // The image the name pointed at before stays listed as <none> if that was its last name, as in docker
      // (not when the name now tags an index of it and other platforms).
      keepDangling(index, moved.filter((old) => !listed.has(old.digest)));
    });
  }

  /** List an image that has no name (built or loaded without one) as `<none>`; nothing changes if index.json has it already. */
  async keepUntagged(image: Descriptor): Promise<void> {
    if ((await this.readIndex()).manifests.some((e) => e.digest === image.digest)) return;
    await this.assertComplete(image);
    await this.updateIndex((index) => {
      if (!index.manifests.some((e) => e.digest === image.digest)) index.manifests.push(untaggedEntry(image, new Date().toISOString()));
    });
  }

  /**
   * Drop the entries that keep untagged images listed (`ribo prune`, `ribo
   * rmi` of an untagged image), those `which` selects; returns them. Their
   * blobs stay until garbage collection.
   */
  async forgetUntagged(which: (entry: Descriptor) => boolean = () => true): Promise<Descriptor[]> {
    const doomed = (entry: Descriptor) => isKeptUntagged(entry) && which(entry);
    if (!(await this.readIndex()).manifests.some(doomed)) return [];
    return this.updateIndex((index) => {
      const removed = index.manifests.filter(doomed);
      index.manifests = index.manifests.filter((entry) => !doomed(entry));
      return removed;
    });
  }

  /** Remove the tag `ref` (however index.json spells it); true if it existed. Blobs stay until garbage collection. */
  async untag(ref: string): Promise<boolean> {
    const name = normalizeImageRef(ref);
    return this.updateIndex((index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((existing) => !namedAs(name)(existing));
      return index.manifests.length !== before;
    });
  }

  /** Refuse to tag an image whose manifest, config or layers are missing; returns the images an index lists (else none). */
  private async assertComplete(manifestDescriptor: Descriptor): Promise<Digest[]> {
    const manifest = await this.blobs.readJSON<ImageManifest & Partial<ImageIndex>>(manifestDescriptor.digest, 'manifest');
    if (manifest.config) assertJsonBlobSize(manifest.config, 'config', `Cannot tag image ${manifestDescriptor.digest}`);
    const children = [manifest.config, ...(manifest.layers ?? []), ...(manifest.manifests ?? [])].filter(
      (child): child is Descriptor => child !== undefined,
    );
    for (const child of children) {
      if (child.urls?.length) continue; // foreign layers live elsewhere by design
      if (!(await this.blobs.hasBlob(child.digest))) throw new BlobNotFoundError(child.digest, this.blobs.blobPath(child.digest));
      // An index's images must be complete too.
      if (MANIFEST_TYPES.includes(child.mediaType) && manifest.manifests?.includes(child)) await this.assertComplete(child);
    }
    return (manifest.manifests ?? []).map((child) => child.digest);
  }
}
