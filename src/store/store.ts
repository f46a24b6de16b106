import path from 'node:path';
import type { Descriptor, Digest } from '../oci/image.js';
import { lockOpenFile, type HeldLock } from '../files/lock.js';
import { currentProcess } from '../files/process-identity.js';
import type { BlobWriter } from './blob-writer.js';
import { BlobStore } from './blobs.js';
import { StoreInUseError, type JsonBlobKind } from './errors.js';
import { ImageLookup, type ImageSummary, type ResolvedImage, type ResolveOptions } from './image-lookup.js';
import { LayerDirs } from './layer-dirs.js';
import { LOCK_TIMEOUT_SECONDS, StoreLayout } from './layout.js';
import { ImageTags } from './tags.js';

export type { ImageSummary, ResolvedImage, ResolveOptions } from './image-lookup.js';

/**
 * The image store: an OCI image layout at `root` plus ingest/, layers/,
 * tmp/ and a lock file. See docs/store.md for the on-disk format.
 * One object for its users; each part lives in a module of its own:
 * layout.ts (paths, opening, clean-up), blobs.ts, tags.ts (index.json),
 * image-lookup.ts (finding and listing images), layer-dirs.ts (layers/).
 */
export class Store {
  /** The shared in-use lock this process holds while the store is open (see withExclusiveUse). */
  private inUse?: HeldLock;
  private readonly blobs: BlobStore;
  private readonly tags: ImageTags;
  private readonly images: ImageLookup;
  private readonly layers: LayerDirs;

  private constructor(private readonly layout: StoreLayout) {
    this.blobs = new BlobStore(layout);
    this.tags = new ImageTags(layout, this.blobs);
    this.images = new ImageLookup(layout.root, this.tags, this.blobs);
    this.layers = new LayerDirs(layout);
  }

  get root(): string {
    return this.layout.root;
  }

  /**
   * Open the store at `root`, creating the layout if absent and removing
   * leftovers of dead processes. The process holds a shared lock on
   * `in-use.lock` until it exits, so `ribo prune` never deletes blobs a
   * running build or load has written but not yet tagged.
   */
  static async open(root: string): Promise<Store> {
    const layout = new StoreLayout(path.resolve(root), currentProcess());
    await layout.init();
    const store = new Store(layout);
    store.inUse = await lockOpenFile(layout.inUseLockPath, 'shared', LOCK_TIMEOUT_SECONDS, (seconds) => new StoreInUseError(layout.root, seconds, 'open'));
    await layout.removeStaleEntries();
    return store;
  }

  /**
   * Stops holding the shared in-use lock: for a process that will only read
   * what it already resolved (a container's supervisor, which may run for
   * days), so `ribo prune` need not wait for it. Prune keeps what containers
   * use by their records instead.
   */
  async leave(): Promise<void> {
    await this.inUse?.release();
    this.inUse = undefined;
  }

  /**
   * Runs `fn` while no other process has this store open (garbage
   * collection): waits up to `timeoutSeconds` for builds, loads and
   * containers to finish.
   */
  async withExclusiveUse<T>(timeoutSeconds: number, fn: () => Promise<T>): Promise<T> {
    await this.leave();
    const lock = await lockOpenFile(this.layout.inUseLockPath, 'exclusive', timeoutSeconds, (seconds) => new StoreInUseError(this.root, seconds, 'prune'));
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  // ---- blobs (blobs.ts) ----

  blobPath(digest: Digest): string {
    return this.blobs.blobPath(digest);
  }
  hasBlob(digest: Digest): Promise<boolean> {
    return this.blobs.hasBlob(digest);
  }
  /** Every blob in blobs/sha256, with its size. */
  listBlobs(): Promise<Array<{ digest: Digest; size: number }>> {
    return this.blobs.listBlobs();
  }
  /** Delete a blob (garbage collection only: call inside withExclusiveUse). */
  removeBlob(digest: Digest): Promise<void> {
    return this.blobs.removeBlob(digest);
  }
  /** Stream a blob; the stream errors with CorruptBlobError if the bytes do not match the digest. */
  openBlob(digest: Digest): NodeJS.ReadableStream {
    return this.blobs.openBlob(digest);
  }
  /** Read a JSON blob, its size (the limit of `kind`) and digest checked first, a config's limits after (`where` names the image). */
  readJSON<T>(digest: Digest, kind: JsonBlobKind = 'config', where?: string): Promise<T> {
    return this.blobs.readJSON<T>(digest, kind, where);
  }
  /** Store `value` as canonical JSON (sorted keys, no spaces) and describe it. */
  writeJSON(mediaType: string, value: unknown): Promise<Descriptor> {
    return this.blobs.writeJSON(mediaType, value);
  }
  /** Start writing a blob of not-yet-known digest. */
  ingest(): Promise<BlobWriter> {
    return this.blobs.ingest();
  }

  // ---- tags (tags.ts) ----

  /** The descriptors of index.json: every tagged (and untagged but listed) image. */
  async indexEntries(): Promise<Descriptor[]> {
    return (await this.tags.readIndex()).manifests;
  }
  /** Point `ref` at `manifest` (index.json spells it the familiar way), replacing what it pointed at before. */
  tag(ref: string, manifest: Descriptor): Promise<void> {
    return this.tags.tag(ref, manifest);
  }
  /** List an image that has no name as `<none>`; nothing changes if index.json has it already. */
  keepUntagged(image: Descriptor): Promise<void> {
    return this.tags.keepUntagged(image);
  }
  /** Drop the `<none>` entries `which` selects and return them; their blobs stay until garbage collection. */
  forgetUntagged(which?: (entry: Descriptor) => boolean): Promise<Descriptor[]> {
    return this.tags.forgetUntagged(which);
  }
  /** Remove the tag `ref` (however index.json spells it); true if it existed. Blobs stay until garbage collection. */
  untag(ref: string): Promise<boolean> {
    return this.tags.untag(ref);
  }

  // ---- finding images (image-lookup.ts) ----

  /** Find an image by NAME[:TAG] (any spelling), NAME@DIGEST, a manifest or config digest, or a unique prefix of one. */
  resolveImage(ref: string, options: ResolveOptions = {}): Promise<ResolvedImage> {
    return this.images.resolveImage(ref, options);
  }
  /** The tags `ref` names, from index.json alone (no blob read), so a broken image's tags can always be removed. */
  tagsNamedBy(ref: string): Promise<{ digest: Digest; tags: string[] }> {
    return this.images.tagsNamedBy(ref);
  }
  /** Every entry of index.json with its creation time and stored size, sorted by ref. */
  listImages(): Promise<ImageSummary[]> {
    return this.images.listImages();
  }

  // ---- unpacked layers (layer-dirs.ts) and scratch space ----

  layerDir(diffID: Digest): string {
    return this.layers.layerDir(diffID);
  }

  /** A name in layers/ for a tree used as a lower dir before its diffID is known (see LayerDirs.pendingLayerDir). */
  pendingLayerDir(): string {
    return this.layers.pendingLayerDir();
  }

  /** Make sure layer `diffID` is unpacked under layers/ (`unpack` fills a scratch dir renamed into place whole). */
  ensureUnpacked(diffID: Digest, unpack: (tempDir: string) => Promise<void>): Promise<string> {
    return this.layers.ensureUnpacked(diffID, unpack);
  }
  /** The diffIDs of the layers unpacked under layers/. */
  listUnpackedLayers(): Promise<Digest[]> {
    return this.layers.listUnpackedLayers();
  }
  /** Delete an unpacked layer (garbage collection only: call inside withExclusiveUse). */
  removeUnpackedLayer(diffID: Digest): Promise<void> {
    return this.layers.removeUnpackedLayer(diffID);
  }
  /** A new empty directory under tmp/, removed by a later Store.open once this process has died. */
  makeTempDir(prefix: string): Promise<string> {
    return this.layout.makeTempDir(prefix);
  }
}
