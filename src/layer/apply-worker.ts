/**
 * applyLayer in a worker thread. A pull's main thread reads the sockets,
 * hashes and writes the blobs; unpacking the same bytes (gunzip, the
 * diffID's sha256, the tar parse, the file writes) on that thread too made it
 * the bottleneck while the second core idled. A LayerUnpackWorker is one
 * worker thread, started at its first layer, that unpacks every layer given
 * to it, several at once, interleaved on its own event loop: one more core,
 * which is what a two-core machine has to give. The caller owns it and closes
 * it when done (no process-wide pool).
 *
 * The bytes go over in 256 KiB batches: each batch is one copy of the
 * incoming chunks (the blob writer still holds those) into a buffer of its
 * own that is then transferred, not cloned. At most FLIGHT_BYTES per layer
 * are in the worker's hands and not yet read, so a layer never sits whole in
 * memory and a slow disk slows the download, as it does without the worker.
 * (1 MiB batches and 4 MiB in flight took a pull of 200 MB from about 180 MB
 * of peak RSS to 210-245 MB for no time saved: each thread's heap keeps its
 * own dead buffers until its next collection.)
 */
import { Worker } from 'node:worker_threads';
import type { ApplyLayerOptions } from './diff.js';
import { rebuildError, type ToWorker, type FromWorker } from './apply-worker-protocol.js';
import { UnpackWorkerError } from './errors.js';

const BATCH_BYTES = 256 * 1024;
const FLIGHT_BYTES = 4 * BATCH_BYTES;

interface Job {
  /** The layer as errors name it. */
  what: string;
  /** Bytes posted and not yet read by the worker's unpacker. */
  inFlight: number;
  /** Waiting for the worker to read some: the feeding loop. */
  wake?: () => void;
  settled: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class LayerUnpackWorker {
  private worker?: Worker;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private failure?: Error;

  /** Same contract as applyLayer: resolves once the layer is unpacked into targetDir and its diffID checked. */
  readonly apply = (input: NodeJS.ReadableStream | AsyncIterable<Buffer>, targetDir: string, opts: ApplyLayerOptions): Promise<void> => this.run(input as AsyncIterable<Buffer>, targetDir, opts);

  /** Starts the thread ahead of its first layer (a failure to start is reported with that layer). */
  start(): void {
    try {
      this.started('The layer unpacking thread');
    } catch {
      // Kept in this.failure, and thrown again by the next started().
    }
  }

  private started(what: string): Worker {
    if (this.failure) throw new UnpackWorkerError(what, this.failure);
    if (this.worker) return this.worker;
    // '../layer/': the same file from dist/src/layer/ and from the bundle, dist/src/cli/ribo.cjs (bin/bundle.mjs).
    const worker = new Worker(new URL('../layer/apply-worker-main.js', import.meta.url));
    worker.on('message', (message: FromWorker) => this.receive(message));
    // A worker that dies (out of memory, a bug) fails every layer it holds, each error naming its layer.
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const [id, job] of [...this.jobs]) this.finish(id, new UnpackWorkerError(job.what, error));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`it exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private receive(message: FromWorker): void {
    const job = this.jobs.get(message.id);
    if (!job) return;
    if (message.type === 'read') {
      job.inFlight -= message.bytes;
      job.wake?.();
    } else this.finish(message.id, message.type === 'error' ? rebuildError(message.error) : undefined);
  }

  private finish(id: number, error?: Error): void {
    const job = this.jobs.get(id);
    if (!job || job.settled) return;
    job.settled = true;
    this.jobs.delete(id);
    job.wake?.();
    if (error) job.reject(error);
    else job.resolve();
  }

  private post(message: ToWorker, what: string, transfer: ArrayBuffer[] = []): void {
    this.started(what).postMessage(message, transfer);
  }

  private run(input: AsyncIterable<Buffer>, targetDir: string, opts: ApplyLayerOptions): Promise<void> {
    const id = this.nextId++;
    const what = opts.what ?? 'A layer';
    this.post({ type: 'start', id, targetDir, mode: opts.mode, expectedDiffID: opts.expectedDiffID, what }, what);
    const done = new Promise<void>((resolve, reject) => this.jobs.set(id, { what, inFlight: 0, settled: false, resolve, reject }));
    const job = this.jobs.get(id)!;
    const feeding = this.feed(id, job, input).then(
      () => done,
      async (error: unknown) => {
        // The input failed (an aborted download): the worker stops and answers, so targetDir is not written to any more.
        if (!job.settled) this.post({ type: 'abort', id, reason: error instanceof Error ? error.message : String(error) }, what);
        await done.catch(() => undefined);
        throw error;
      },
    );
    // A layer that fails in the worker fails at once; the rest of its input is read and dropped in the background.
    return Promise.race([feeding, done.then(() => feeding)]);
  }

  /** Copies the input into batches for the worker; once the worker has finished (or failed) the rest is read and dropped. */
  private async feed(id: number, job: Job, input: AsyncIterable<Buffer>): Promise<void> {
    let batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
    let filled = 0;
    const send = async () => {
      if (filled === 0 || job.settled) return;
      const bytes = filled;
      const sent = batch;
      batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
      filled = 0;
      job.inFlight += bytes;
      this.post({ type: 'chunk', id, chunk: sent.buffer as ArrayBuffer, length: bytes }, job.what, [sent.buffer as ArrayBuffer]);
      while (job.inFlight > FLIGHT_BYTES && !job.settled) await new Promise<void>((resolve) => (job.wake = resolve));
      job.wake = undefined;
    };
    for await (const chunk of input) {
      if (job.settled) continue;
      let offset = 0;
      while (offset < chunk.length && !job.settled) {
        const copied = chunk.copy(batch, filled, offset);
        offset += copied;
        filled += copied;
        if (filled === BATCH_BYTES) await send();
      }
    }
    await send();
    if (!job.settled) this.post({ type: 'end', id }, job.what);
  }

  /** Stops the thread; layers still unpacking fail. Closing again does nothing more. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failure ??= new Error('the layer unpacking thread was closed');
    if (worker) {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
    for (const [id, job] of [...this.jobs]) this.finish(id, new UnpackWorkerError(job.what, this.failure));
  }
}
