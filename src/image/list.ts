/**
 * The images `ribo images` lists, as docker and podman show them: one row per
 * tag (untagged ones as <none>), the config digest as the id, the unpacked
 * size, and a creation time that is the store's arrival time for
 * reproducible images dated 1970.
 */
import { promises as fs } from 'node:fs';
import type { Descriptor, Digest, ImageConfig, ImageManifest } from '../oci/image.js';
import { untaggedManifests } from '../store/image-ids.js';
import { MediaType } from '../oci/image.js';
import { familiarName, InvalidImageRefError, parseImageRef } from '../oci/reference.js';
import { decompressedLayer } from '../layer/compression.js';
import { RiboError } from '../errors.js';
import { LayerSizes } from '../store/layer-sizes.js';
import type { ImageSummary, Store } from '../store/index.js';

export interface ListedImage {
  repository: string;
  tag: string;
  /** The manifest digest. */
  digest: Digest;
  /** The config digest (the image id); absent when the image cannot be read. */
  id?: Digest;
  /** `created` of the config. */
  created?: Date;
  /** What CREATED shows: `created`, or when the store got the image if the config says 1970 or nothing. */
  shownCreated?: Date;
  /** The layers unpacked (sum of their uncompressed tar sizes), as docker and podman count SIZE. */
  size: number;
  labels: Record<string, string>;
  dangling: boolean;
  /** os/arch[/variant] of each image under the name: several for a multi-platform image (whose other fields are this machine's image's). */
  platforms: string[];
}

/** Configs made with SOURCE_DATE_EPOCH=0 (ribo's default) say 1970: no one built an image then. */
const REPRODUCIBLE_EPOCH_END = Date.UTC(1971, 0, 1);

/** Every image of index.json (untagged ones too); with `all`, also manifests in blobs/ no entry names (last tag removed by rmi), until `ribo prune`. */
export async function listStoreImages(store: Store, opts: { all: boolean }): Promise<ListedImage[]> {
  const summaries = await store.listImages();
  if (opts.all) summaries.push(...(await untaggedSummaries(store, new Set(summaries.map((s) => s.digest)))));
  const sizes = new LayerSizes(store.root);
  const listed: ListedImage[] = [];
  for (const summary of summaries) {
    const [repository, tag] = repositoryAndTag(summary.ref);
    const created = summary.created === undefined ? undefined : new Date(summary.created);
    const received = summary.received === undefined ? await blobTime(store, summary.digest) : new Date(summary.received);
    const useReceived = created === undefined || Number.isNaN(created.getTime()) || created.getTime() < REPRODUCIBLE_EPOCH_END;
    listed.push({
      repository,
      tag,
      digest: summary.digest,
      ...(summary.config ? { id: summary.config } : {}),
      ...(created && !Number.isNaN(created.getTime()) ? { created } : {}),
      ...((useReceived ? received : created) ? { shownCreated: useReceived ? received : created } : {}),
      size: await unpackedSize(store, sizes, summary.layers ?? []),
      labels: summary.labels ?? {},
      platforms: summary.platforms ?? [],
      dangling: summary.ref === undefined,
    });
  }
  return listed;
}

/** The REPOSITORY and TAG columns, in docker's familiar form ("ubuntu", "localhost/app"). */
function repositoryAndTag(ref: string | undefined): [string, string] {
  if (ref === undefined) return ['<none>', '<none>'];
  try {
    const parsed = parseImageRef(ref);
    return [familiarName(parsed), parsed.tag ?? '<none>'];
  } catch (error) {
    if (error instanceof InvalidImageRefError) return [ref, '<none>']; // a name another tool wrote
    throw error;
  }
}

async function blobTime(store: Store, digest: Digest): Promise<Date | undefined> {
  return (await fs.stat(store.blobPath(digest)).catch(() => undefined))?.mtime;
}

async function unpackedSize(store: Store, sizes: LayerSizes, layers: Array<{ descriptor: Descriptor; diffID?: Digest }>): Promise<number> {
  let total = 0;
  for (const { descriptor, diffID } of layers) {
    const known = diffID === undefined ? undefined : await sizes.get(diffID);
    if (known !== undefined) {
      total += known;
      continue;
    }
    const measured = await measureLayer(store, descriptor);
    if (diffID !== undefined && measured !== undefined) await sizes.put(diffID, measured);
    total += measured ?? descriptor.size;
  }
  return total;
}

/** The uncompressed size of a layer blob, streamed once; undefined when the blob is missing or damaged. */
async function measureLayer(store: Store, descriptor: Descriptor): Promise<number | undefined> {
  if (descriptor.mediaType === MediaType.layerTar) return descriptor.size;
  try {
    let size = 0;
    for await (const chunk of decompressedLayer(store.openBlob(descriptor.digest))) size += chunk.length;
    return size;
  } catch (error) {
    if (error instanceof RiboError) return undefined;
    throw error;
  }
}

/** Summaries of the images whose tags are gone (store/image-ids.ts finds them). */
async function untaggedSummaries(store: Store, listed: Set<Digest>): Promise<ImageSummary[]> {
  const found: ImageSummary[] = [];
  for (const { entry } of await untaggedManifests(store, listed)) {
    const manifest = await store.readJSON<ImageManifest>(entry.digest, 'manifest');
    const config = await store.readJSON<ImageConfig>(manifest.config.digest).catch(() => undefined);
    if (!config) continue;
    found.push({
      digest: entry.digest,
      config: manifest.config.digest,
      size: entry.size,
      ...(config.created ? { created: config.created } : {}),
      ...(config.config?.Labels ? { labels: config.config.Labels } : {}),
      layers: manifest.layers.map((descriptor, i) => ({ descriptor, ...(config.rootfs?.diff_ids?.[i] ? { diffID: config.rootfs.diff_ids[i] } : {}) })),
    });
  }
  return found;
}
