import { assertConfigLimits } from './config-limits.js';
import { createReadStream, openSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import {
  Annotation,
  MediaType,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type ImageIndex,
  type ImageLayoutHeader,
  type ImageManifest,
  type Platform,
} from '../oci/image.js';
import { configPlatform, formatPlatform, hostPlatform, samePlatform, selectPlatform } from '../oci/platform.js';
import { assertDigest, digestFromHash, digestHex, sha256Hasher, sha256Of } from '../oci/digest.js';
import { RiboError } from '../errors.js';
import { IngestWriter, type BlobWriter } from './blob-writer.js';
import { canonicalJSON } from './canonical-json.js';
import {
  AmbiguousImageError,
  assertJsonBlobSize,
  BlobNotFoundError,
  BlobTooLargeError,
  CorruptBlobError,
  JSON_BLOB_LIMITS,
  type JsonBlobKind,
  ImageNotFoundError,
  StoreInUseError,
  StoreLayoutError,
  UnsupportedManifestError,
  NoPlatformManifestError,
} from './errors.js';
import { createFileIfAbsent } from '../files/atomic-write.js';
import { isErrno } from '../files/errno.js';
import { asDiskFull } from '../files/disk-full.js';
import { lockOpenFile, type HeldLock } from '../files/lock.js';
import { currentProcess, isAlive, ownedName, parseOwner, type ProcessIdentity } from '../files/process-identity.js';
import { removeTree } from '../files/remove-tree.js';
import { withStoreLock } from './lock.js';
import { familiarSpelling, IndexFile, isKeptUntagged, keepDangling, namedAs, RECEIVED_ANNOTATION, refNameOf, untaggedEntry } from './index-file.js';
import { entriesNamedById, HEX_ID, untaggedManifests, type IdentifiedEntry } from './image-ids.js';
import { familiarRef, normalizeImageRef, parseImageRef } from '../oci/reference.js';

export interface ResolvedImage {
  /** The normalized NAME:TAG the image was found by; absent when found by digest. */
  ref?: string;
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  configDescriptor: Descriptor;
  /** Set when the name or digest named an image index: the index, and the platform chosen from it. */
  index?: { descriptor: Descriptor; index: ImageIndex };
}

export interface ResolveOptions {
  /**
   * The platform wanted (given by the user: --platform, FROM --platform): from
   * an index its manifest, and a single manifest must be for it. Without it an
   * index gives the host's manifest and a single manifest is taken as it is.
   */
  platform?: Platform;
  /** For commands that handle an index whole (tag, push, save): without the host's platform in it, take its first image. */
  wholeIndex?: boolean;
}

export interface ImageSummary {
  /** NAME:TAG, absent for an untagged entry of index.json. */
  ref?: string;
  /** The manifest digest. */
  digest: Digest;
  /** The config digest: the image id, as docker and podman call it. */
  config?: Digest;
  /** `created` of the image config, if it has one. */
  created?: string;
  /** When this store first got the image (written beside the index entry, not in the image). */
  received?: string;
  labels?: Record<string, string>;
  /** The layers as the manifest lists them (compressed), with their diffIDs from the config. */
  layers?: Array<{ descriptor: Descriptor; diffID?: Digest }>;
  /** Manifest + config + layers, as stored (compressed) in blobs/. */
  size: number;
  /** Set when the image's blobs cannot be read; the other fields are then partial. */
  problem?: string;
  /** "os/arch[/variant]" of each image under this entry (one, or the manifests of an index). */
  platforms?: string[];
}

const LAYOUT_VERSION: ImageLayoutHeader = { imageLayoutVersion: '1.0.0' };
/** Manifests and configs are small; refuse to slurp a layer by mistake. */
const LOCK_TIMEOUT_SECONDS = 120;
const MANIFEST_TYPES: readonly string[] = [MediaType.imageManifest, MediaType.dockerManifest];
const INDEX_TYPES: readonly string[] = [MediaType.imageIndex, MediaType.dockerManifestList];
const SHORT_ID = HEX_ID;
const DIGEST_OR_PREFIX = /^sha256:[0-9a-f]{1,64}$/;
/** The build cache index (build/cache/directory-store.ts) writes "<hash>.<pid>.<random>.tmp" (files/atomic-write.ts) and renames. */
const CACHE_INDEX_DIRS = ['cache/steps', 'cache/positions'];
const CACHE_TEMP_NAME = /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+\.tmp$/;

/**
 * The image store: an OCI image layout at `root` plus ingest/, layers/,
 * tmp/ and a lock file. See docs/store.md for the on-disk format.
 */
export class Store {
  /** The shared in-use lock this process holds while the store is open (see withExclusiveUse). */
  private inUse?: HeldLock;

  private constructor(
    readonly root: string,
    private readonly owner: ProcessIdentity,
  ) {}

  /**
   * Open the store at `root`, creating the layout if absent and removing
   * leftovers of dead processes. The process holds a shared lock on
   * `in-use.lock` until it exits, so `ribo prune` never deletes blobs a
   * running build or load has written but not yet tagged.
   */
  static async open(root: string): Promise<Store> {
    const store = new Store(path.resolve(root), currentProcess());
    await store.initLayout();
    store.inUse = await lockOpenFile(store.inUseLockPath, 'shared', LOCK_TIMEOUT_SECONDS, (seconds) => new StoreInUseError(store.root, seconds, 'open'));
    await store.removeStaleEntries();
    return store;
  }

  private get inUseLockPath(): string {
    return path.join(this.root, 'in-use.lock');
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
    await this.inUse?.release();
    this.inUse = undefined;
    const lock = await lockOpenFile(this.inUseLockPath, 'exclusive', timeoutSeconds, (seconds) => new StoreInUseError(this.root, seconds, 'prune'));
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  }

  private get ingestDir(): string {
    return path.join(this.root, 'ingest');
  }
  private get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }
  private get indexPath(): string {
    return path.join(this.root, 'index.json');
  }
  private get lockPath(): string {
    return path.join(this.root, 'lock');
  }

  private async initLayout(): Promise<void> {
    await this.makePrivateRoot();
    for (const dir of ['blobs/sha256', 'ingest', 'layers', 'tmp']) {
      await fs.mkdir(path.join(this.root, dir), { recursive: true });
    }
    // Nothing is written when the files exist: a store on a full disk must still open (to free space).
    const layoutPath = path.join(this.root, 'oci-layout');
    if (!(await exists(layoutPath))) await createFileIfAbsent(this.ingestPath('oci-layout'), layoutPath, JSON.stringify(LAYOUT_VERSION));
    const layout = await this.readMetadataFile<ImageLayoutHeader>(layoutPath);
    if (layout.imageLayoutVersion !== LAYOUT_VERSION.imageLayoutVersion) {
      throw new StoreLayoutError(this.root, `${layoutPath} declares layout version "${layout.imageLayoutVersion}", ribo understands ${LAYOUT_VERSION.imageLayoutVersion}`);
    }
    const emptyIndex: ImageIndex = { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [] };
    if (!(await exists(this.indexPath))) await createFileIfAbsent(this.ingestPath('index'), this.indexPath, JSON.stringify(emptyIndex, null, 2) + '\n');
    await fs.writeFile(this.lockPath, '', { flag: 'a' });
    await fs.writeFile(this.inUseLockPath, '', { flag: 'a' });
  }

  /**
   * The root is 0700 (docs/store.md, "Who can read the store"): below it are
   * setuid files and world-writable dirs of unpacked layers, container records
   * with their -e secrets and build logs, none of which other users may reach.
   * One mkdir and one stat per open; a root made by an earlier ribo (0755) is
   * tightened here. Missing parents are made 0700 too, as the XDG spec asks of
   * ~/.local/share.
   */
  private async makePrivateRoot(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    const info = await fs.stat(this.root);
    if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await fs.chmod(this.root, info.mode & 0o7700);
  }

  /**
   * Remove what dead processes left: ingest/ files and tmp/ dirs (half-written blobs,
   * half-unpacked layers, build work dirs) and the cache index's temp files. Names
   * carry the owner's pid (and start time), so the work of live processes is never
   * touched. Runs under the store lock so two ribo processes do not clean at once.
   */
  private async removeStaleEntries(): Promise<void> {
    const stale = await this.staleEntries();
    if (stale.length === 0) return;
    await withStoreLock(this.lockPath, LOCK_TIMEOUT_SECONDS, async () => {
      for (const entry of stale) {
        try {
          await removeTree(entry);
        } catch (error) {
          // Files of container users can only be removed inside ribo's user namespace:
          // the next command that enters it (build, run, import) cleans them.
          if (!isErrno(error, 'EACCES', 'EPERM')) throw error;
        }
      }
    });
  }

  private async staleEntries(): Promise<string[]> {
    const stale: string[] = [];
    for (const dir of [this.ingestDir, this.tmpDir]) {
      for (const name of await fs.readdir(dir)) {
        const owner = parseOwner(name);
        if (owner && !isAlive(owner)) stale.push(path.join(dir, name));
      }
    }
    for (const dir of CACHE_INDEX_DIRS.map((sub) => path.join(this.root, sub))) {
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
        const pid = CACHE_TEMP_NAME.exec(name)?.[1];
        if (pid !== undefined && !isAlive({ pid: Number(pid), start: 0 })) stale.push(path.join(dir, name));
      }
    }
    return stale;
  }

  private ingestPath(label: string): string {
    return path.join(this.ingestDir, ownedName(this.owner, label));
  }

  private async readMetadataFile<T>(file: string): Promise<T> {
    const text = await fs.readFile(file, 'utf8');
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new StoreLayoutError(this.root, `${file} is not valid JSON (${(error as Error).message})`);
    }
  }

  // ---- blobs ----

  blobPath(digest: Digest): string {
    return path.join(this.root, 'blobs', 'sha256', digestHex(assertDigest(digest, 'Blob digest')));
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    try {
      return (await fs.stat(this.blobPath(digest))).isFile();
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
  }

  /** Every blob in blobs/sha256, with its size. */
  async listBlobs(): Promise<Array<{ digest: Digest; size: number }>> {
    const dir = path.join(this.root, 'blobs', 'sha256');
    const blobs: Array<{ digest: Digest; size: number }> = [];
    for (const name of await fs.readdir(dir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const info = await fs.lstat(path.join(dir, name)).catch(() => undefined);
      if (info?.isFile()) blobs.push({ digest: `sha256:${name}`, size: info.size });
    }
    return blobs;
  }

  /** Delete a blob (garbage collection only: call inside withExclusiveUse). */
  async removeBlob(digest: Digest): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  /** Stream a blob; the stream errors with CorruptBlobError if the bytes do not match the digest. */
  openBlob(digest: Digest): NodeJS.ReadableStream {
    const file = this.blobPath(digest);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new BlobNotFoundError(digest, file);
      throw error;
    }
    const hash = sha256Hasher();
    const verifier = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const actual = digestFromHash(hash);
        callback(actual === digest ? null : new CorruptBlobError(digest, file, `its content hashes to ${actual}`));
      },
    });
    const source = createReadStream(file, { fd });
    source.on('error', (error) => verifier.destroy(error));
    // A consumer that stops early destroys the verifier; release the file too.
    verifier.on('close', () => source.destroy());
    return source.pipe(verifier);
  }

  /**
   * Read a JSON blob (manifest, config, index), checking its size (the limit of `kind`) and digest first;
   * a config is held to CONFIG_LIMITS too, and `where` (the image) names it in that error.
   */
  async readJSON<T>(digest: Digest, kind: JsonBlobKind = 'config', where?: string): Promise<T> {
    const file = this.blobPath(digest);
    let bytes: Buffer;
    try {
      const stat = await fs.stat(file);
      if (stat.size > JSON_BLOB_LIMITS[kind]) throw new BlobTooLargeError(digest, kind, stat.size, file);
      bytes = await fs.readFile(file);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new BlobNotFoundError(digest, file);
      throw error;
    }
    const actual = sha256Of(bytes);
    if (actual !== digest) throw new CorruptBlobError(digest, file, `its content hashes to ${actual}`);
    let value: T;
    try {
      value = JSON.parse(bytes.toString('utf8')) as T;
    } catch (error) {
      throw new CorruptBlobError(digest, file, `it is not JSON: ${(error as Error).message}`);
    }
    if (kind === 'config') assertConfigLimits(value, where ?? `Image config ${digest}`);
    return value;
  }

  /** Store `value` as canonical JSON (sorted keys, no spaces) and describe it. */
  async writeJSON(mediaType: string, value: unknown): Promise<Descriptor> {
    const bytes = Buffer.from(canonicalJSON(value), 'utf8');
    // Blobs are only ever renamed into place whole, so one of the same digest and size is this one:
    // a fully cached build writes its config and manifest again without two more fsyncs.
    const digest = sha256Of(bytes);
    const existing = await fs.stat(this.blobPath(digest)).catch(() => undefined);
    if (existing?.isFile() && existing.size === bytes.length) return { mediaType, digest, size: bytes.length };
    const writer = await this.ingest();
    writer.stream.write(bytes);
    const { size } = await writer.commit({ digest });
    return { mediaType, digest, size };
  }

  /** Start writing a blob of not-yet-known digest. */
  async ingest(): Promise<BlobWriter> {
    return IngestWriter.create(this.ingestPath('blob'), (digest) => this.blobPath(digest));
  }

  // ---- tags (index.json) ----

  /** The descriptors of index.json: every tagged (and untagged but listed) image. */
  async indexEntries(): Promise<Descriptor[]> {
    return (await this.readIndex()).manifests;
  }

  private readIndex(): Promise<ImageIndex> {
    return this.indexFile.read();
  }

  /** Read-modify-write index.json under the store lock, replacing it atomically. */
  private updateIndex<T>(change: (index: ImageIndex) => T): Promise<T> {
    return withStoreLock(this.lockPath, LOCK_TIMEOUT_SECONDS, () => this.indexFile.update(change));
  }

  private get indexFile(): IndexFile {
    return new IndexFile(this.root, this.indexPath, () => this.ingestPath('index'));
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
    const manifest = await this.readJSON<ImageManifest & Partial<ImageIndex>>(manifestDescriptor.digest, 'manifest');
    if (manifest.config) assertJsonBlobSize(manifest.config, 'config', `Cannot tag image ${manifestDescriptor.digest}`);
    const children = [manifest.config, ...(manifest.layers ?? []), ...(manifest.manifests ?? [])].filter(
      (child): child is Descriptor => child !== undefined,
    );
    for (const child of children) {
      if (child.urls?.length) continue; // foreign layers live elsewhere by design
      if (!(await this.hasBlob(child.digest))) throw new BlobNotFoundError(child.digest, this.blobPath(child.digest));
      // An index's images must be complete too.
      if (MANIFEST_TYPES.includes(child.mediaType) && manifest.manifests?.includes(child)) await this.assertComplete(child);
    }
    return (manifest.manifests ?? []).map((child) => child.digest);
  }

  /**
   * Find an image by NAME[:TAG] (any spelling of it: "ubuntu",
   * "docker.io/library/ubuntu:latest"), by NAME@DIGEST or a manifest digest,
   * or by a unique digest prefix.
   */
  async resolveImage(ref: string, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const index = await this.readIndex();
    const load = (entry: Descriptor) => this.loadImage(entry, ref, options.platform, options.wholeIndex);
    if (DIGEST_OR_PREFIX.test(ref)) return this.resolveByDigest(index, ref.slice('sha256:'.length), ref, load);
    let name: string | undefined;
    try {
      const parsed = parseImageRef(ref);
      // NAME@DIGEST pins content: the store has it when it holds that manifest (docker checks no more either).
      if (parsed.digest) return this.resolveByDigest(index, parsed.digest.slice('sha256:'.length), ref, load);
      name = familiarRef(parsed);
    } catch (error) {
      if (!SHORT_ID.test(ref)) throw error;
    }
    if (name !== undefined) {
      // The familiar spelling first: a store from an earlier ribo may have both it and the full one.
      const matches = index.manifests.filter(namedAs(name)).sort((a, b) => Number(refNameOf(b) === name) - Number(refNameOf(a) === name));
      if (matches[0]) return { ref: name, ...(await load(matches[0])) };
    }
    if (SHORT_ID.test(ref)) return this.resolveByDigest(index, ref, ref, load);
    throw new ImageNotFoundError(ref, this.root);
  }

  /**
   * The tags `ref` names, from index.json alone: no blob is read, so a tag
   * whose manifest or config is missing, corrupt or huge can always be
   * removed (`ribo rmi`). NAME[:TAG] names that tag; a digest, NAME@DIGEST or
   * a unique digest prefix names every tag of that manifest.
   */
  async tagsNamedBy(ref: string): Promise<{ digest: Digest; tags: string[] }> {
    const index = await this.readIndex();
    const byDigest = async (hexPrefix: string): Promise<{ digest: Digest; tags: string[] }> => {
      // Config digests are read from manifests that can be read; a broken one is still found by its manifest digest.
      const named = entriesNamedById(await this.identifiedEntries(index), hexPrefix, ref);
      if (named.length > 0) {
        const digests = new Set(named.map((e) => e.entry.digest));
        const names = index.manifests.filter((entry) => digests.has(entry.digest)).map(refNameOf).filter((name): name is string => name !== undefined);
        return { digest: named[0]!.entry.digest, tags: [...new Set(names.map(familiarSpelling))].sort() };
      }
      if (hexPrefix.length === 64 && (await this.hasBlob(`sha256:${hexPrefix}`))) return { digest: `sha256:${hexPrefix}`, tags: [] };
      throw new ImageNotFoundError(ref, this.root, true);
    };
    if (DIGEST_OR_PREFIX.test(ref)) return byDigest(ref.slice('sha256:'.length));
    try {
      const parsed = parseImageRef(ref);
      if (parsed.digest) return byDigest(parsed.digest.slice('sha256:'.length));
      const name = familiarRef(parsed);
      const match = index.manifests.find(namedAs(name));
      if (match) return { digest: match.digest, tags: [name] };
    } catch (error) {
      if (!SHORT_ID.test(ref)) throw error;
    }
    if (SHORT_ID.test(ref)) return byDigest(ref);
    throw new ImageNotFoundError(ref, this.root);
  }

  /** Every entry of index.json with its config digest, where its manifest can be read. */
  private async identifiedEntries(index: ImageIndex): Promise<IdentifiedEntry[]> {
    const identified: IdentifiedEntry[] = [];
    for (const entry of index.manifests) {
      try {
        const manifest = await this.readJSON<ImageManifest>(entry.digest, 'manifest');
        identified.push({ entry, ...(manifest.config?.digest ? { config: manifest.config.digest } : {}) });
      } catch (error) {
        if (!(error instanceof RiboError)) throw error;
        identified.push({ entry });
      }
    }
    return identified;
  }

  private async resolveByDigest(index: ImageIndex, hexPrefix: string, asGiven: string, load: (entry: Descriptor) => Promise<ResolvedImage>): Promise<ResolvedImage> {
    // A tagged entry first, so the image resolves with a name when it has one.
    const [found] = entriesNamedById(await this.identifiedEntries(index), hexPrefix, asGiven).sort((a, b) => Number(refNameOf(b.entry) !== undefined) - Number(refNameOf(a.entry) !== undefined));
    if (found) return load(found.entry);
    // A full digest may name an untagged manifest (or index, or a manifest of a tagged index) that is still in blobs/ (a manifest has a config; a config is found below).
    const digest = `sha256:${hexPrefix}`;
    if (hexPrefix.length === 64 && (await this.hasBlob(digest))) {
      const manifest = await this.readJSON<ImageManifest>(digest, 'manifest');
      const size = (await fs.stat(this.blobPath(digest))).size;
      if (manifest.config || Array.isArray((manifest as Partial<ImageIndex>).manifests)) return load({ mediaType: manifest.mediaType ?? MediaType.imageManifest, digest, size });
    }
    // An image whose tags are gone (`ribo images -a`), by its config digest or a prefix of either.
    const [untagged] = entriesNamedById(await untaggedManifests(this, new Set(index.manifests.map((e) => e.digest))), hexPrefix, asGiven);
    if (untagged) return load(untagged.entry);
    throw new ImageNotFoundError(asGiven, this.root, true);
  }

  /**
   * The image an index.json entry (or a blob) names: a manifest as it is, or
   * from an index the manifest for `platform` (default: the host's). A single
   * manifest asked for with a platform must be for that platform.
   */
  private async loadImage(entry: Descriptor, asGiven = entry.digest, platform?: Platform, wholeIndex = false): Promise<Omit<ResolvedImage, 'ref'>> {
    const blob = await this.readJSON<ImageManifest & Partial<ImageIndex>>(entry.digest, 'manifest');
    const mediaType = blob.mediaType ?? entry.mediaType;
    if (INDEX_TYPES.includes(mediaType) && Array.isArray(blob.manifests)) {
      const wanted = platform ?? hostPlatform();
      const images = blob.manifests.filter((m) => MANIFEST_TYPES.includes(m.mediaType));
      const chosen = selectPlatform(images, wanted) ?? (wholeIndex && !platform ? images[0] : undefined);
      if (!chosen) throw new NoPlatformManifestError(asGiven, formatPlatform(wanted), indexPlatforms(blob as ImageIndex), platform !== undefined);
      const image = await this.loadImage(chosen, asGiven);
      return { ...image, index: { descriptor: entry, index: blob as ImageIndex } };
    }
    if (!MANIFEST_TYPES.includes(mediaType) || !blob.config) {
      throw new UnsupportedManifestError(entry.digest, mediaType);
    }
    const config = await this.readJSON<ImageConfig>(blob.config.digest);
    if (platform && config.architecture && !samePlatform(configPlatform(config), platform)) {
      throw new NoPlatformManifestError(asGiven, formatPlatform(platform), [formatPlatform(configPlatform(config))], true);
    }
    return { manifestDescriptor: entry, manifest: blob, config, configDescriptor: blob.config };
  }

  /** Every entry of index.json with its creation time and stored size, sorted by ref. */
  async listImages(): Promise<ImageSummary[]> {
    const index = await this.readIndex();
    const summaries: ImageSummary[] = [];
    for (const entry of index.manifests) {
      const stored = refNameOf(entry);
      const ref = stored === undefined ? undefined : familiarSpelling(stored);
      const received = entry.annotations?.[RECEIVED_ANNOTATION];
      const summary: ImageSummary = { ...(ref ? { ref } : {}), digest: entry.digest, size: entry.size, ...(received ? { received } : {}) };
      try {
        const { manifest, config, index: platforms } = await this.loadImage(entry, entry.digest, undefined, true);
        summary.size += manifest.config.size + manifest.layers.reduce((total, layer) => total + layer.size, 0);
        summary.config = manifest.config.digest;
        summary.layers = manifest.layers.map((descriptor, i) => ({ descriptor, ...(config.rootfs?.diff_ids?.[i] ? { diffID: config.rootfs.diff_ids[i] } : {}) }));
        if (config.config?.Labels) summary.labels = config.config.Labels;
        if (config.created) summary.created = config.created;
        summary.platforms = platforms ? indexPlatforms(platforms.index) : config.architecture ? [formatPlatform(configPlatform(config))] : [];
      } catch (error) {
        if (!(error instanceof RiboError)) throw error;
        summary.problem = error.message;
      }
      summaries.push(summary);
    }
    return summaries.sort((a, b) => (a.ref ?? '\uffff').localeCompare(b.ref ?? '\uffff') || a.digest.localeCompare(b.digest));
  }

  // ---- unpacked layers and scratch space ----

  layerDir(diffID: Digest): string {
    return path.join(this.root, 'layers', digestHex(assertDigest(diffID, 'Layer diffID')));
  }

  /**
   * Make sure layer `diffID` is unpacked under layers/. `unpack` fills a
   * fresh scratch dir, which is renamed into place in one step, so a layer
   * dir either does not exist or is complete. If another process wins the
   * race, its copy is kept and ours is thrown away.
   */
  async ensureUnpacked(diffID: Digest, unpack: (tempDir: string) => Promise<void>): Promise<string> {
    const final = this.layerDir(diffID);
    if (await isDirectory(final)) return final;
    const temp = await this.makeTempDir('unpack');
    try {
      await fs.chmod(temp, 0o755);
      await unpack(temp);
      await fs.rename(temp, final);
    } catch (error) {
      await removeTree(temp);
      if (isErrno(error, 'EEXIST', 'ENOTEMPTY') && (await isDirectory(final))) return final;
      throw asDiskFull(error, `layer ${diffID}, unpacked under ${path.join(this.root, 'layers')}`, this.root);
    }
    return final;
  }

  /** The diffIDs of the layers unpacked under layers/. */
  async listUnpackedLayers(): Promise<Digest[]> {
    const names = await fs.readdir(path.join(this.root, 'layers'));
    return names.filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => `sha256:${name}`);
  }

  /** Delete an unpacked layer (garbage collection only: call inside withExclusiveUse). */
  async removeUnpackedLayer(diffID: Digest): Promise<void> {
    // Renamed out of layers/ first, so a crash midway never leaves half a layer that looks complete;
    // renamed as it is (no new directory to make: prune must work on a full disk) to a name Store.open cleans.
    const doomed = path.join(this.tmpDir, ownedName(this.owner, 'prune'));
    await fs.rename(this.layerDir(diffID), doomed);
    await removeTree(doomed);
  }

  /** A new empty directory under tmp/, removed by a later Store.open once this process has died. */
  async makeTempDir(prefix: string): Promise<string> {
    const label = prefix.replace(/[^A-Za-z0-9._-]/g, '_') || 'tmp';
    return fs.mkdtemp(path.join(this.tmpDir, `${this.owner.pid}.${this.owner.start}-${label}-`));
  }
}

/** "os/arch[/variant]" of each image manifest an index lists. */
export function indexPlatforms(index: ImageIndex): string[] {
  return (index.manifests ?? []).filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
}

async function exists(target: string): Promise<boolean> {
  return fs.access(target).then(() => true, () => false);
}

async function isDirectory(target: string): Promise<boolean> {
  try {
    return (await fs.stat(target)).isDirectory();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
