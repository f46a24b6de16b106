/**
 * gzip on several cores, the way pigz does it: the input is cut into fixed 1 MiB
 * blocks, each block is deflated on the libuv thread pool with the previous 32 KiB as
 * its dictionary, non-final blocks end with a sync flush so they can be concatenated,
 * and the output is one ordinary gzip member. Block boundaries depend only on the
 * input offset, so the output does not depend on thread timing.
 */
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw) as (data: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;
const crc32: ((data: Buffer, value?: number) => number) | undefined = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

const BLOCK_SIZE = 1024 * 1024;
/**
 * Each block's first 64 KiB is deflated quickly first; when that saves less than
 * 2%, the block is stored instead of deflated (random data, already-compressed
 * files), which costs almost nothing where deflate would spend most of a layer
 * commit finding no matches. The choice depends only on the block's bytes.
 */
const SAMPLE_SIZE = 64 * 1024;
const INCOMPRESSIBLE_RATIO = 0.98;
const WINDOW_SIZE = 32 * 1024;
/**
 * zlib's output buffer for one call. Its default (16 KiB) turns each block into
 * dozens of hand-overs between the thread pool and the main thread, which showed
 * as a third of the main thread's time; one buffer larger than any deflated block
 * (stored blocks add 5 bytes per 64 KiB) makes it one.
 */
const OUTPUT_CHUNK_SIZE = BLOCK_SIZE + 64 * 1024;
/** The thread pool has 4 threads by default; leave one for file I/O. */
const MAX_IN_FLIGHT = 3;

/** zlib.crc32 arrived in Node 20.15; without it ribo falls back to single-threaded gzip. */
export function parallelGzipAvailable(): boolean {
  return crc32 !== undefined;
}

function gzipHeader(): Buffer {
  // magic, deflate, no flags, mtime 0, no extra flags, OS 255 (unknown)
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
}

/** zlib's level (1-9) and memLevel (1-9, the size of its match-finding hash table). */
export interface GzipSettings {
  level: number;
  memLevel: number;
}

export async function* parallelGzip(source: AsyncIterable<Buffer>, settings: GzipSettings): AsyncGenerator<Buffer> {
  const { level, memLevel } = settings;
  if (!crc32) throw new Error('parallelGzip needs zlib.crc32 (Node >= 20.15)');
  // One more job than cores keeps every core busy while the main thread hands over the next block.
  const concurrency = Math.min(availableParallelism() + 1, MAX_IN_FLIGHT);
  const inFlight: Array<Promise<Buffer>> = [];
  let crc = 0;
  let total = 0;
  let dictionary: Buffer | undefined;
  let pending: Buffer[] = [];
  let pendingLength = 0;

  const submit = (block: Buffer, last: boolean): void => {
    crc = crc32(block, crc);
    total += block.length;
    const options: zlib.ZlibOptions = { level, memLevel, chunkSize: OUTPUT_CHUNK_SIZE, finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (dictionary) options.dictionary = dictionary;
    const sample = block.subarray(0, SAMPLE_SIZE);
    const job = deflateRaw(sample, { level: 1, chunkSize: 2 * SAMPLE_SIZE }).then((probe) =>
      deflateRaw(block, probe.length >= sample.length * INCOMPRESSIBLE_RATIO ? { ...options, level: 0 } : options),
    );
    job.catch(() => undefined); // awaited in order below; this only keeps early failures from being "unhandled"
    inFlight.push(job);
    dictionary = Buffer.from(block.subarray(Math.max(0, block.length - WINDOW_SIZE)));
  };

  yield gzipHeader();
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(BLOCK_SIZE - pendingLength, chunk.length - offset);
      pending.push(chunk.subarray(offset, offset + take));
      pendingLength += take;
      offset += take;
      if (pendingLength === BLOCK_SIZE) {
        submit(Buffer.concat(pending, pendingLength), false);
        pending = [];
        pendingLength = 0;
        while (inFlight.length >= concurrency) yield await inFlight.shift()!;
      }
    }
  }
  submit(Buffer.concat(pending, pendingLength), true);
  while (inFlight.length > 0) yield await inFlight.shift()!;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 2 ** 32, 4);
  yield trailer;
}
