import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import type { Descriptor, ImageIndex, ImageManifest } from '../oci/image.js';
import { sha256Of } from '../oci/digest.js';
import type { Store } from '../store/index.js';
import { BlobSources } from './blob-sources.js';
import { withRetry, type RegistryClient } from './client.js';
import { RegistryContentError, RegistryHttpError } from './errors.js';
import { errorDetail } from './http.js';
import type { TransferProgress } from './progress.js';
import { canonicalRef, type ImageRef } from '../oci/reference.js';

/** Blobs larger than this go up in chunks of this size unless --chunk-size says otherwise. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
const DEFAULT_JOBS = 4;

export interface PushOptions {
  store: Store;
  client: RegistryClient;
  /** The manifest to push, as stored. */
  manifest: Descriptor;
  /** Where to: repository and tag (or digest) in the client's registry. */
  ref: ImageRef;
  progress: TransferProgress;
  /** Blobs above this size are uploaded in PATCH chunks of this size; 0: always in one request. */
  chunkSize?: number;
  jobs?: number;
}

export interface PushResult {
  digest: string;
  uploaded: number;
  mounted: number;
  present: number;
}

/**
 * Pushes an image from the store: each blob the registry lacks (asked with
 * HEAD first), mounted from another repository of the same registry when ribo
 * knows one that has it, else uploaded in one PUT or in chunks; the manifest
 * last, with its stored bytes unchanged so its digest is the same there.
 */
export async function pushImage(opts: PushOptions): Promise<PushResult> {
  const { store, manifest: descriptor } = opts;
  const bytes = await readFile(store.blobPath(descriptor.digest));
  if (sha256Of(bytes) !== descriptor.digest) throw new RegistryContentError(`The stored manifest ${descriptor.digest} is corrupt (its content no longer matches its digest); rebuild the image before pushing it.`);
  const manifest = JSON.parse(bytes.toString('utf8')) as ImageManifest & Partial<ImageIndex>;
  const counts = { uploaded: 0, mounted: 0, present: 0 };
  if (Array.isArray(manifest.manifests)) {
    // An image index: every image it lists first (manifests by digest, with their blobs), then the index under the tag.
    for (const child of manifest.manifests) {
      const pushed = await pushImage({ ...opts, manifest: child, ref: { ...opts.ref, tag: undefined, digest: child.digest } });
      for (const key of ['uploaded', 'mounted', 'present'] as const) counts[key] += pushed[key];
    }
    await opts.client.putManifest(opts.ref.repository, opts.ref.tag ?? descriptor.digest, manifest.mediaType ?? descriptor.mediaType, bytes);
    return { digest: descriptor.digest, ...counts };
  }
  const blobs = uniqueBlobs([manifest.config, ...(manifest.layers ?? []).filter((l) => !l.urls?.length)]);
  const queue = [...blobs];
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(opts.jobs ?? DEFAULT_JOBS, queue.length) }, async () => {
      for (let blob = queue.shift(); blob && !failed; blob = queue.shift()) {
        try {
          counts[await pushBlob(opts, blob)] += 1;
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
  await opts.client.putManifest(opts.ref.repository, opts.ref.tag ?? descriptor.digest, descriptor.mediaType, bytes);
  return { digest: descriptor.digest, ...counts };
}

/** Each digest once: an image may repeat a layer (two steps that changed nothing alike), and two uploads of one blob at once race. */
export function uniqueBlobs(blobs: Descriptor[]): Descriptor[] {
  return [...new Map(blobs.map((blob) => [blob.digest, blob])).values()];
}

/** Makes sure the registry has one blob; says how. */
export async function pushBlob(opts: Omit<PushOptions, 'manifest'>, blob: Descriptor): Promise<'uploaded' | 'mounted' | 'present'> {
  const { client, ref, progress, store } = opts;
  const sources = new BlobSources(store.root);
  const repository = ref.repository;
  if (await client.hasBlob(repository, blob.digest, [`repository:${repository}:pull,push`])) {
    progress.finish(blob.digest, 'already in the registry');
    await sources.record(blob.digest, client.registry, repository);
    return 'present';
  }
  const prefix = `${client.registry}/`;
  const mountFrom = (await sources.lookup(blob.digest)).find((s) => s.startsWith(prefix) && s !== `${prefix}${repository}`)?.slice(prefix.length);
  const outcome = await withRetry(
    async () => {
      const start = await client.startUpload(repository, mountFrom ? { digest: blob.digest, from: mountFrom } : undefined);
      if (start.mounted) return 'mounted' as const;
      progress.start(blob.digest, blob.size, 'Uploading');
      const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
      if (chunkSize > 0 && blob.size > chunkSize) await uploadChunked(opts, blob, start.location, chunkSize);
      else await finishUpload(opts, blob, start.location, { start: 0, end: blob.size - 1 });
      return 'uploaded' as const;
    },
    (error) => progress.reset(blob.digest, error instanceof Error ? error.message.split('.')[0]! : 'failed'),
  );
  progress.finish(blob.digest, outcome === 'mounted' ? `mounted from ${mountFrom}` : 'pushed');
  await sources.record(blob.digest, client.registry, repository);
  return outcome;
}

function fileBody(opts: Pick<PushOptions, 'store' | 'progress'>, blob: Descriptor, range: { start: number; end: number }): () => Readable {
  return () => {
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        opts.progress.advance(blob.digest, chunk.length);
        callback(null, chunk);
      },
    });
    const file = createReadStream(opts.store.blobPath(blob.digest), range);
    file.on('error', (error) => counter.destroy(error));
    return file.pipe(counter);
  };
}

/** PATCHes the blob in pieces (each answered with the next Location), then PUTs ?digest= with no body. */
async function uploadChunked(opts: Omit<PushOptions, 'manifest'>, blob: Descriptor, location: URL, chunkSize: number): Promise<void> {
  let next = location;
  for (let start = 0; start < blob.size; start += chunkSize) {
    const end = Math.min(blob.size, start + chunkSize) - 1;
    const response = await opts.client.uploadRequest('PATCH', next, opts.ref.repository, {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      'content-range': `${start}-${end}`,
    }, fileBody(opts, blob, { start, end }));
    if (response.status !== 202) throw new RegistryHttpError(response, await errorDetail(response), `Uploading bytes ${start}-${end} of ${blob.digest} to ${canonicalRef(opts.ref)} failed.`);
    response.body.resume();
    next = opts.client.uploadLocation(response);
  }
  await finishUpload(opts, blob, next);
}

/** The closing PUT: with the whole blob as body (monolithic) or none (after chunks). */
async function finishUpload(opts: Omit<PushOptions, 'manifest'>, blob: Descriptor, location: URL, range?: { start: number; end: number }): Promise<void> {
  const url = new URL(location);
  url.searchParams.set('digest', blob.digest);
  const headers: Record<string, string> = range ? { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) } : {};
  const body = range && blob.size > 0 ? fileBody(opts, blob, range) : undefined;
  const response = await opts.client.uploadRequest('PUT', url, opts.ref.repository, headers, body);
  if (response.status !== 201) throw new RegistryHttpError(response, await errorDetail(response), `Uploading ${blob.digest} to ${canonicalRef(opts.ref)} failed.`);
  response.body.resume();
}
