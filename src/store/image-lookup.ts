/** Finding images by what users type (a name, a digest, an id prefix) and listing them: reads index.json and blobs, writes nothing. */
import { promises as fs } from 'node:fs';
import { MediaType, type Descriptor, type Digest, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../oci/image.js';
import { configPlatform, formatPlatform, hostPlatform, samePlatform, selectPlatform } from '../oci/platform.js';
import { familiarRef, parseImageRef } from '../oci/reference.js';
import { RiboError } from '../errors.js';
import type { BlobStore } from './blobs.js';
import { ImageNotFoundError, NoPlatformManifestError, UnsupportedManifestError } from './errors.js';
import { entriesNamedById, HEX_ID, untaggedManifests, type IdentifiedEntry } from './image-ids.js';
import { familiarSpelling, namedAs, RECEIVED_ANNOTATION, refNameOf } from './index-file.js';
import { MANIFEST_TYPES, type ImageTags } from './tags.js';

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

const INDEX_TYPES: readonly string[] = [MediaType.imageIndex, MediaType.dockerManifestList];
const SHORT_ID = HEX_ID;
const DIGEST_OR_PREFIX = /^sha256:[0-9a-f]{1,64}$/;

export class ImageLookup {
  constructor(
    /** The store's root, named in errors. */
    private readonly root: string,
    private readonly tags: ImageTags,
    private readonly blobs: BlobStore,
  ) {}

  /**
   * Find an image by NAME[:TAG] (any spelling of it: "ubuntu",
   * "docker.io/library/ubuntu:latest"), by NAME@DIGEST or a manifest digest,
   * or by a unique digest prefix.
   */
  async resolveImage(ref: string, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const index = await this.tags.readIndex();
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
    const index = await this.tags.readIndex();
    const byDigest = async (hexPrefix: string): Promise<{ digest: Digest; tags: string[] }> => {
      // Config digests are read from manifests that can be read; a broken one is still found by its manifest digest.
      const named = entriesNamedById(await this.identifiedEntries(index), hexPrefix, ref);
      if (named.length > 0) {
        const digests = new Set(named.map((e) => e.entry.digest));
        const names = index.manifests.filter((entry) => digests.has(entry.digest)).map(refNameOf).filter((name): name is string => name !== undefined);
        return { digest: named[0]!.entry.digest, tags: [...new Set(names.map(familiarSpelling))].sort() };
      }
      if (hexPrefix.length === 64 && (await this.blobs.hasBlob(`sha256:${hexPrefix}`))) return { digest: `sha256:${hexPrefix}`, tags: [] };
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
        const manifest = await this.blobs.readJSON<ImageManifest>(entry.digest, 'manifest');
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
    if (hexPrefix.length === 64 && (await this.blobs.hasBlob(digest))) {
      const manifest = await this.blobs.readJSON<ImageManifest>(digest, 'manifest');
      const size = (await fs.stat(this.blobs.blobPath(digest))).size;
      if (manifest.config || Array.isArray((manifest as Partial<ImageIndex>).manifests)) return load({ mediaType: manifest.mediaType ?? MediaType.imageManifest, digest, size });
    }
    // An image whose tags are gone (`ribo images -a`), by its config digest or a prefix of either.
    const [untagged] = entriesNamedById(await untaggedManifests(this.blobs, new Set(index.manifests.map((e) => e.digest))), hexPrefix, asGiven);
    if (untagged) return load(untagged.entry);
    throw new ImageNotFoundError(asGiven, this.root, true);
  }

  /**
   * The image an index.json entry (or a blob) names: a manifest as it is, or
   * from an index the manifest for `platform` (default: the host's). A single
   * manifest asked for with a platform must be for that platform.
   */
  private async loadImage(entry: Descriptor, asGiven = entry.digest, platform?: Platform, wholeIndex = false): Promise<Omit<ResolvedImage, 'ref'>> {
    const blob = await this.blobs.readJSON<ImageManifest & Partial<ImageIndex>>(entry.digest, 'manifest');
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
    const config = await this.blobs.readJSON<ImageConfig>(blob.config.digest);
    if (platform && config.architecture && !samePlatform(configPlatform(config), platform)) {
      throw new NoPlatformManifestError(asGiven, formatPlatform(platform), [formatPlatform(configPlatform(config))], true);
    }
    return { manifestDescriptor: entry, manifest: blob, config, configDescriptor: blob.config };
  }

  /** Every entry of index.json with its creation time and stored size, sorted by ref. */
  async listImages(): Promise<ImageSummary[]> {
    const index = await this.tags.readIndex();
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
}

/** "os/arch[/variant]" of each image manifest an index lists. */
export function indexPlatforms(index: ImageIndex): string[] {
  return (index.manifests ?? []).filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
}
