import type { Writable } from 'node:stream';
import { layerClaimKey, verifyLayerDiffIDs } from '../image/layers.js';
import { LayerSinks, type LayerSink } from '../image/layer-sink.js';
import { hostArchitecture } from '../image/platform.js';
import { MediaType, type Descriptor, type Digest, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../oci/image.js';
import { assertJsonBlobSize, DigestMismatchError, type BlobWriter, type Store } from '../store/index.js';
import { UsageError } from '../errors.js';
import { BlobSources } from './blob-sources.js';
import { uniqueBlobs } from './push.js';
import { withRetry, type RegistryClient } from './client.js';
import type { HttpResponse } from './http.js';
import { NetworkTimeoutError } from './timeouts.js';
import { RegistryContentError, UnsupportedRegistryManifestError } from './errors.js';
import type { TransferProgress } from './progress.js';
import { canonicalRef, type ImageRef } from '../oci/reference.js';
import { configPlatform, selectPlatform } from '../oci/platform.js';
import { tagBesideOtherPlatforms } from '../image/platform-tags.js';
import { eachLimited } from '../files/each-limited.js';

export { selectPlatform };

export const MANIFEST_ACCEPT = [MediaType.imageIndex, MediaType.dockerManifestList, MediaType.imageManifest, MediaType.dockerManifest] as const;
const INDEX_TYPES: readonly string[] = [MediaType.imageIndex, MediaType.dockerManifestList];
const IMAGE_TYPES: readonly string[] = [MediaType.imageManifest, MediaType.dockerManifest];
const DEFAULT_JOBS = 4;

export interface PullOptions {
  store: Store;
  client: RegistryClient;
  ref: ImageRef;
  /** Which image of a multi-platform index; default the host's. */
  platform?: Platform;
  progress: TransferProgress;
  /** Blobs fetched at the same time at most. */
  jobs?: number;
  /** Unpack each layer into layers/<diffID>/ as it downloads (inside ribo's namespace, or as root); else the blobs are only stored. */
  unpack?: boolean;
  /** Tag the image beside the other platforms the name has (an index of them), instead of replacing it: FROM of a multi-platform build. */
  keepOtherPlatforms?: boolean;
}

export interface PullResult {
  manifest: Descriptor;
  /** The store tag set, absent for a pull by digest alone. */
  name?: string;
  fetched: number;
  present: number;
}

/** "linux/arm64/v8" -> a Platform; default the host's. */
export function parsePlatform(value: string | undefined): Platform {
  if (!value) return { os: 'linux', architecture: hostArchitecture() };
  const [os, architecture, variant] = value.split('/');
  if (!os || !architecture || value.split('/').length > 3) throw new UsageError(`--platform ${value}: give OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8.`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * Pulls an image into the store: manifest (through an index when the
 * reference names one), config and layers. Blobs already in the store are not
 * fetched; the others stream into the store's ingest area with their size and
 * digest checked on the way, several at a time. A blob that fails its check
 * stops the pull before anything is tagged; blobs completed before an
 * interruption stay, so pulling again fetches only what is missing.
 */
export async function pullImage(opts: PullOptions): Promise<PullResult> {
  // The unpacking thread starts (about 0.08 s) while the manifest and config download, not after.
  const sinks = new LayerSinks(opts.store, { unpack: opts.unpack ?? false });
  sinks.warmUp();
  try {
    return await pullWithSinks(opts, sinks);
  } finally {
    await sinks.close();
  }
}

async function pullWithSinks(opts: PullOptions, sinks: LayerSinks): Promise<PullResult> {
  const { client, ref, store } = opts;
  const platform = opts.platform ?? parsePlatform(undefined);
  let fetched = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest', MANIFEST_ACCEPT);
  if (INDEX_TYPES.includes(fetched.mediaType)) {
    const index = JSON.parse(fetched.bytes.toString('utf8')) as ImageIndex;
    const chosen = selectPlatform(index.manifests ?? [], platform);
    if (!chosen) {
      const offered = (index.manifests ?? []).map((m) => m.platform && [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/')).filter(Boolean);
      throw new RegistryContentError(`${canonicalRef(ref)} has no image for ${[platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')}; it offers ${offered.join(', ') || 'none'}. Choose one with --platform.`);
    }
    fetched = await client.getManifest(ref.repository, chosen.digest, MANIFEST_ACCEPT);
  }
  if (!IMAGE_TYPES.includes(fetched.mediaType)) {
    throw new UnsupportedRegistryManifestError(`${canonicalRef(ref)} is a ${fetched.mediaType || 'manifest without a media type'}, which ribo cannot pull; it pulls OCI and Docker schema 2 images and indexes. (Docker schema 1 images are obsolete: push them again with a current tool.)`);
  }
  assertJsonBlobSize({ digest: fetched.digest, size: fetched.bytes.length }, 'manifest', canonicalRef(ref));
  const manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new RegistryContentError(`The manifest of ${canonicalRef(ref)} has no config or layers; it is not an image.`);
  // Before anything is fetched: a config the store would refuse to read makes an image no command can use.
  assertJsonBlobSize(manifest.config, 'config', canonicalRef(ref));

  const sources = new BlobSources(store.root);
  const imageName = canonicalRef(ref);
  // The config first: its diffIDs are what each layer is checked against while it downloads.
  let fetchedCount = 0;
  let present = 0;
  if (await store.hasBlob(manifest.config.digest)) {
    present += 1;
    opts.progress.finish(manifest.config.digest, 'already in the store');
  } else {
    await fetchBlob(opts, manifest.config);
    fetchedCount += 1;
  }
  const config = await store.readJSON<ImageConfig>(manifest.config.digest, 'config', imageName);
  if ((config.rootfs?.diff_ids ?? []).length !== manifest.layers.length) {
    throw new RegistryContentError(`${imageName} is inconsistent: its manifest lists ${manifest.layers.length} layers but its config ${config.rootfs?.diff_ids?.length ?? 0} diff_ids. Nothing was tagged.`);
  }
  const diffIDOf = new Map<string, Digest>();
  manifest.layers.forEach((layer, i) => diffIDOf.has(layer.digest) || diffIDOf.set(layer.digest, config.rootfs.diff_ids[i]!));
  const layers = uniqueBlobs(manifest.layers.filter((layer) => !layer.urls?.length && layer.digest !== manifest.config.digest));
  const missing: Descriptor[] = [];
  for (const blob of layers) {
    if (await store.hasBlob(blob.digest)) {
      present += 1;
      opts.progress.finish(blob.digest, 'already in the store');
    } else missing.push(blob);
  }
  // Each layer is unpacked (or its diffID checked) on the same pass as its download: no second read of the blob.
  // The unpacking runs in a worker thread, so this thread's core is left to the sockets, the blobs' hashes and writes.
  const checked = new Set<string>();
  await eachLimited(missing, opts.jobs ?? DEFAULT_JOBS, async (blob, cancelled) => {
    const diffID = diffIDOf.get(blob.digest)!;
    const what = `Layer ${blob.digest} of image ${imageName}`;
    await fetchBlob(opts, blob, cancelled, () => sinks.open({ descriptor: blob, diffID }, what));
    checked.add(layerClaimKey(blob.digest, diffID));
  });
  await sinks.close();
  fetchedCount += missing.length;
  await Promise.all([manifest.config, ...layers].map((blob) => sources.record(blob.digest, client.registry, ref.repository)));
  // Blobs that were in the store already, and a blob the manifest names twice, are checked (and unpacked) from the store.
  await verifyLayerDiffIDs(store, manifest, config, imageName, { checked, unpack: opts.unpack ?? false });
  // The manifest's own bytes, unchanged, so its digest stays the registry's.
  const writer = await store.ingest();
  writer.stream.write(fetched.bytes);
  const stored = await writer.commit({ digest: fetched.digest, size: fetched.bytes.length });
  const descriptor: Descriptor = { mediaType: fetched.mediaType, digest: stored.digest, size: stored.size };
  // Tagged under the familiar name ("alpine:3"), as every image in the store is; a digest-only pull tags nothing.
  const name = ref.tag ? canonicalRef({ ...ref, digest: undefined }) : undefined;
  if (name && opts.keepOtherPlatforms && config.architecture) await tagBesideOtherPlatforms(store, name, descriptor, configPlatform(config));
  else if (name) await store.tag(name, descriptor);
  return { manifest: descriptor, name, fetched: fetchedCount, present };
}

class CancelledError extends Error {}

/**
 * Fetches one blob into the store, checking size and digest as it streams;
 * retried after transient failures. `openSink` gives a layer's unpacker
 * (image/layer-sink.ts), fed the same bytes and told to publish only once the
 * digest checked out; a retry that starts the blob over starts it over too.
 */
export async function fetchBlob(opts: Pick<PullOptions, 'store' | 'client' | 'ref' | 'progress'>, blob: Descriptor, cancelled: () => boolean = () => false, openSink?: () => Promise<LayerSink>): Promise<void> {
  const { store, client, ref, progress } = opts;
  progress.start(blob.digest, blob.size, 'Fetching');
  // What an attempt cut off got stays in the writer, whose hash has seen it: the next attempt asks for the rest (HTTP Range).
  let writer: BlobWriter | undefined;
  let sink: LayerSink | undefined;
  let received = 0;
  const discard = async () => {
    const dropped = sink;
    sink = undefined;
    await writer?.abort();
    writer = undefined;
    received = 0;
    await dropped?.abort(new CancelledError(`the download of ${blob.digest} was started over or given up`));
  };
  try {
    await withRetry(
      async () => {
        if (cancelled()) throw new CancelledError();
        if (!writer || received < blob.size) {
          const response = await client.getBlob(ref.repository, blob.digest, writer ? received : 0);
          if (!writer || !continuesAt(response, received)) {
            await discard();
            writer = await store.ingest();
            sink = await openSink?.();
          }
          progress.advance(blob.digest, received); // a retry set the row back to 0
          await receiveBody(response, writer, sink?.input, blob, received, (bytes) => {
            received += bytes;
            progress.advance(blob.digest, bytes);
          }, cancelled).catch(async (error: unknown) => {
            if (error instanceof DigestMismatchError) {
              await discard();
              throw blobMismatch(blob, ref, error.actual.size);
            }
            // A connection cut mid-body is worth another try, from where it stopped.
            if (error instanceof Error && !(error instanceof CancelledError) && /aborted|ECONNRESET|ETIMEDOUT|premature close/i.test(`${error.message} ${(error as NodeJS.ErrnoException).code ?? ''}`)) {
              const why = error instanceof NetworkTimeoutError ? ` (${error.message})` : '';
              throw Object.assign(new RegistryContentError(`The download of ${blob.digest} from ${canonicalRef(ref)} was cut off after ${received} bytes${why}; try again.`), { transient: true });
            }
            await discard();
            throw error;
          });
        }
        sink?.input.end();
        try {
          await writer.commit({ digest: blob.digest, size: blob.size });
        } catch (error) {
          const size = received;
          await discard();
          throw error instanceof DigestMismatchError ? blobMismatch(blob, ref, size) : error;
        }
      },
      // The first sentence: host names and addresses have dots of their own.
      (error) => progress.reset(blob.digest, error instanceof Error ? error.message.split(/\.(?:\s|$)/)[0]!.replace(/; try again$/, '') : 'failed'),
    );
  } catch (error) {
    await discard();
    throw error;
  }
  if (sink) {
    sink.verified();
    await sink.done;
  }
  progress.finish(blob.digest, 'done');
}

/** Whether a ranged GET's answer goes on at `offset` (206 with that start), rather than starting over (200). */
function continuesAt(response: HttpResponse, offset: number): boolean {
  if (response.status !== 206) return false;
  const match = /^bytes (\d+)-/.exec(String(response.headers['content-range'] ?? ''));
  if (match && Number(match[1]) === offset) return true;
  response.body.resume();
  throw new RegistryContentError(`The registry answered a request for the bytes from ${offset} on with ${String(response.headers['content-range'] ?? 'no Content-Range')}; pull again.`);
}

/**
 * Copies a blob's body into the writer, counting beside the copy (a stream
 * stage of its own costs a step per socket read): more bytes than the
 * descriptor says stop it at once. The writer is not ended, and stays usable
 * when the body breaks off, for the caller to commit or go on with; `tap` (a
 * layer's unpacker) gets the same bytes, and is not ended either.
 */
function receiveBody(response: HttpResponse, writer: BlobWriter, tap: Writable | undefined, blob: Descriptor, alreadyReceived: number, counted: (bytes: number) => void, cancelled: () => boolean): Promise<void> {
  const body = response.body;
  const out = writer.stream as Writable;
  return new Promise<void>((resolve, reject) => {
    let total = alreadyReceived;
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      out.off('error', settle);
      if (error === undefined) return resolve();
      body.unpipe(out);
      if (tap) body.unpipe(tap);
      body.destroy();
      reject(error);
    };
    body.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > blob.size) settle(new DigestMismatchError({ digest: blob.digest, size: blob.size }, { digest: 'sha256:(more bytes than expected)', size: total }, 'Fetching a blob'));
      else if (cancelled()) settle(new CancelledError());
      else counted(chunk.length);
    });
    body.on('end', () => settle());
    body.on('error', settle);
    body.on('close', () => settle(new Error('premature close')));
    out.on('error', settle);
    body.pipe(out, { end: false });
    if (tap) body.pipe(tap, { end: false });
  });
}

function blobMismatch(blob: Descriptor, ref: ImageRef, received: number): RegistryContentError {
  return new RegistryContentError(
    `Blob ${blob.digest} of ${canonicalRef(ref)}, as the registry served it, does not match its digest and size (${blob.size} bytes; got ${received} bytes${received === blob.size ? ' with other content' : ''}). ` +
      `The registry's copy is corrupt or something on the way altered it. Nothing of it was stored and the image was not tagged; pull again, or push the image to the registry again.`,
  );
}
