/**
 * What `ribo inspect` and `ribo history` show: an image's manifest, config and
 * layers as stored, read from the store without unpacking anything.
 */
import type { Descriptor, Digest, HistoryEntry, ImageConfig, ImageManifest, Platform } from '../oci/image.js';
import { formatPlatform } from '../oci/platform.js';
import type { ResolvedImage, Store } from '../store/index.js';
import { imageLayerRefs } from './layers.js';

export interface InspectedLayer {
  Digest: Digest;
  DiffID: Digest;
  MediaType: string;
  /** Compressed size of the blob, as stored. */
  Size: number;
}

/** Docker-like field names, plus the manifest and config as they are stored. */
export interface ImageInspection {
  /** The config digest: the image id, as docker and podman (and `ribo images`) show it. */
  Id: Digest;
  /** The manifest digest, as a registry names the image. */
  Digest: Digest;
  RepoTags: string[];
  /** NAME@MANIFEST-DIGEST for the repository of each tag, as docker shows them. */
  RepoDigests: string[];
  Created?: string;
  Author?: string;
  Architecture: string;
  Os: string;
  Variant?: string;
  Config: ImageConfig['config'];
  RootFS: { Type: string; Layers: Digest[] };
  /** Manifest + config + layers, as stored (compressed). */
  Size: number;
  Layers: InspectedLayer[];
  History: HistoryEntry[];
  ManifestDescriptor: Descriptor;
  Manifest: ImageManifest;
  ImageConfig: ImageConfig;
  /** For a name or digest of an image index (a multi-platform image): its digest and every image it holds; the fields above describe the one chosen (the host's, or --platform's). */
  Index?: { Digest: Digest; Manifests: Array<{ Platform: string; Digest: Digest }> };
}

/** Every tag in the store that points at `digest`, sorted. */
export async function tagsOf(store: Store, digest: Digest): Promise<string[]> {
  return (await store.listImages())
    .filter((image) => image.digest === digest && image.ref !== undefined)
    .map((image) => image.ref!)
    .sort();
}

/** NAME:TAG without the tag (a registry port's colon stays). */
function repositoryOf(tag: string): string {
  const colon = tag.lastIndexOf(':');
  return colon > tag.lastIndexOf('/') ? tag.slice(0, colon) : tag;
}

export async function inspectImage(store: Store, ref: string, platform?: Platform): Promise<ImageInspection> {
  const image = await store.resolveImage(ref, { platform });
  const { manifest, config, manifestDescriptor } = image;
  const layers = imageLayerRefs(manifest, config, ref).map(
    (layer): InspectedLayer => ({
      Digest: layer.descriptor.digest,
      DiffID: layer.diffID,
      MediaType: layer.descriptor.mediaType,
      Size: layer.descriptor.size,
    }),
  );
  // A multi-platform image is tagged (and pushed) as its index.
  const top = image.index?.descriptor.digest ?? manifestDescriptor.digest;
  const repoTags = await tagsOf(store, top);
  const size = manifestDescriptor.size + manifest.config.size + layers.reduce((total, layer) => total + layer.Size, 0);
  return {
    Id: manifest.config.digest,
    Digest: manifestDescriptor.digest,
    RepoTags: repoTags,
    RepoDigests: [...new Set(repoTags.map((tag) => `${repositoryOf(tag)}@${top}`))],
    ...(config.created ? { Created: config.created } : {}),
    ...(config.author ? { Author: config.author } : {}),
    Architecture: config.architecture,
    Os: config.os,
    ...(config.variant ? { Variant: config.variant } : {}),
    Config: config.config ?? {},
    RootFS: { Type: config.rootfs?.type ?? 'layers', Layers: config.rootfs?.diff_ids ?? [] },
    Size: size,
    Layers: layers,
    History: config.history ?? [],
    ManifestDescriptor: manifestDescriptor,
    Manifest: manifest,
    ImageConfig: config,
    ...(image.index ? { Index: { Digest: image.index.descriptor.digest, Manifests: image.index.index.manifests.map((m) => ({ Platform: m.platform ? formatPlatform(m.platform) : '', Digest: m.digest })) } } : {}),
  };
}

export interface HistoryRow {
  created?: string;
  createdBy: string;
  comment?: string;
  /** The layer this step made; absent for config-only steps (empty_layer). */
  layer?: { digest: Digest; diffID: Digest; size: number };
}

/**
 * The image's history, oldest first, with each non-empty step matched to the
 * layer it made. Layers beyond the history (images made by tools that record
 * none) get rows of their own, as Docker shows them.
 */
export function imageHistory(image: ResolvedImage, name: string): HistoryRow[] {
  const layers = imageLayerRefs(image.manifest, image.config, name);
  const rows: HistoryRow[] = [];
  let next = 0;
  for (const entry of image.config.history ?? []) {
    const row: HistoryRow = {
      createdBy: entry.created_by ?? '',
      ...(entry.created ? { created: entry.created } : {}),
      ...(entry.comment ? { comment: entry.comment } : {}),
    };
    const layer = entry.empty_layer ? undefined : layers[next++];
    if (layer) row.layer = { digest: layer.descriptor.digest, diffID: layer.diffID, size: layer.descriptor.size };
    rows.push(row);
  }
  for (; next < layers.length; next++) {
    const layer = layers[next]!;
    rows.push({ createdBy: '', layer: { digest: layer.descriptor.digest, diffID: layer.diffID, size: layer.descriptor.size } });
  }
  return rows;
}
