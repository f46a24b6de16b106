/**
 * The thread of a LayerUnpackWorker (apply-worker.ts): applyLayer for each
 * layer it is sent, several at once, each fed by the batches of bytes that
 * arrive for it; every batch read is acknowledged so the sender can send more.
 */
import { parentPort } from 'node:worker_threads';
import { applyLayer } from './diff.js';
import { serializeError, type FromWorker, type ToWorker } from './apply-worker-protocol.js';

class Abort extends Error {}

/** The bytes of one layer as they arrive, read by applyLayer. */
class Incoming {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private aborted?: Error;
  private wake?: () => void;

  constructor(private readonly acknowledge: (bytes: number) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  abort(reason: string): void {
    this.aborted = new Abort(reason);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.aborted) throw this.aborted;
      const chunk = this.chunks.shift();
      if (chunk) {
        yield chunk;
        // Read (or copied on by the unpacker): room for another batch.
        this.acknowledge(chunk.length);
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

const port = parentPort!;
const layers = new Map<number, Incoming>();
const send = (message: FromWorker) => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    const incoming = new Incoming((bytes) => send({ type: 'read', id: message.id, bytes }));
    layers.set(message.id, incoming);
    applyLayer(incoming, message.targetDir, { mode: message.mode, expectedDiffID: message.expectedDiffID, what: message.what }).then(
      () => send({ type: 'done', id: message.id }),
      (error: unknown) => send({ type: 'error', id: message.id, error: serializeError(error) }),
    ).finally(() => layers.delete(message.id));
    return;
  }
  const incoming = layers.get(message.id);
  if (!incoming) return; // finished (failed) already: the rest of its bytes are dropped
  if (message.type === 'chunk') incoming.push(Buffer.from(message.chunk, 0, message.length));
  else if (message.type === 'end') incoming.end();
  else incoming.abort(message.reason);
});
