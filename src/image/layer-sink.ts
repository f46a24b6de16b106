/**
 * Where a layer blob's bytes go while they arrive (`ribo pull`, `ribo run` of
 * an image the store lacks): decompressed and unpacked into `layers/<diffID>/`
 * by the store's one unpacker (snapshot/layers.ts), or, where layers cannot
 * be unpacked (outside ribo's namespace as a normal user) or the layer is
 * unpacked already, only hashed. Either way the diffID the image's config
 * claims is checked on the same pass as the blob's digest, so the blob is
 * never read a second time; the layer is published only once both checked out.
 */
import { stat } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { DiffIDMismatchError, LayerError, LayerUnpackWorker, uncompressedDigest } from '../layer/index.js';
import type { Descriptor, Digest } from '../oci/image.js';
import { unpackLayer } from '../snapshot/index.js';
import type { Store } from '../store/index.js';

export interface LayerSink {
  /** Takes the blob's bytes as they arrive; ended after the last. */
  readonly input: Writable;
  /** The blob's digest and size checked out: the layer may be published. */
  verified(): void;
  /** The blob failed: the layer is dropped (its temp dir removed before this resolves). */
  abort(reason: Error): Promise<void>;
  /** Resolves once the layer is unpacked and published, or its diffID checked; rejects with what went wrong. */
  readonly done: Promise<void>;
}

export interface LayerSinkOptions {
  /** Unpack into layers/<diffID>/ (inside ribo's namespace, or as root); else only check the diffID. */
  unpack: boolean;
  /** The layer as errors name it: `Layer sha256:… of image NAME`. */
  what: string;
  /** Unpack in this worker thread, off the thread that downloads (a pull's); else on this thread. */
  worker?: LayerUnpackWorker;
}

/** Blob bytes buffered ahead of the unpacker, so the socket keeps being read while a file is written. */
const FEED_BUFFER = 256 * 1024;

export async function openLayerSink(store: Store, layer: { descriptor: Descriptor; diffID: Digest }, opts: LayerSinkOptions): Promise<LayerSink> {
  const feed = new PassThrough({ highWaterMark: FEED_BUFFER });
  feed.on('error', () => undefined); // an abort's error reaches the reader through its iterator
  // The reader may stop early (a bad entry): the feed is then drained, not destroyed, so the download runs on to its digest check.
  const source: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => feed.iterator({ destroyOnReturn: false }) };
  let open!: () => void;
  let close!: (reason: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    open = resolve;
    close = reject;
  });
  gate.catch(() => undefined);
  const unpack = opts.unpack && !(await isDirectory(store.layerDir(layer.diffID)));
  const work = async (): Promise<void> => {
    if (unpack) {
      let read = false;
      await unpackLayer(store, layer.diffID, () => ((read = true), source), opts.what, () => gate, opts.worker?.apply);
      if (read) return;
      // Another process published the layer first: this blob's claim is still checked.
    }
    const actual = await uncompressedDigest(source);
    if (actual !== layer.diffID) throw new DiffIDMismatchError(layer.diffID, actual, opts.what);
    await gate;
  };
  const done = work().catch((error: unknown) => {
    throw namingLayer(error, opts.what);
  }).finally(() => {
    if (!feed.destroyed) feed.resume();
  });
  done.catch(() => undefined); // awaited by the caller
  return {
    input: feed,
    verified: open,
    abort: async (reason) => {
      close(reason);
      feed.destroy(reason);
      await done.catch(() => undefined);
    },
    done,
  };
}

/** A layer's error as a pull shows it: which layer of which image (a corrupt tar's own message cannot say), the class kept. */
function namingLayer(error: unknown, what: string): unknown {
  if (error instanceof LayerError && !error.message.includes(what)) error.message = `${what}: ${error.message}`;
  return error;
}

async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then((info) => info.isDirectory(), () => false);
}

/**
 * The sinks of one pull's layers. Their unpacking runs in one worker thread
 * (layer/apply-worker.ts), started by warmUp or the first layer to unpack, so the
 * thread that downloads keeps its core for the sockets and the blobs' hashes
 * and writes. close() stops it once the pull is over.
 */
export class LayerSinks {
  private worker?: LayerUnpackWorker;

  constructor(private readonly store: Store, private readonly opts: { unpack: boolean }) {}

  /** Starts the unpacking thread now, so it is ready when the first layer's bytes arrive. */
  warmUp(): void {
    this.unpackWorker()?.start();
  }

  open(layer: { descriptor: Descriptor; diffID: Digest }, what: string): Promise<LayerSink> {
    return openLayerSink(this.store, layer, { unpack: this.opts.unpack, what, worker: this.unpackWorker() });
  }

  /** The pull's one unpacking thread, made on first use; none when layers are not unpacked. */
  private unpackWorker(): LayerUnpackWorker | undefined {
    if (this.opts.unpack) this.worker ??= new LayerUnpackWorker();
    return this.worker;
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }
}
