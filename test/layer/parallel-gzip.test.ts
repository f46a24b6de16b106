import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { LAYER_GZIP } from '../../src/layer/compression.js';
import { parallelGzip } from '../../src/layer/parallel-gzip.js';
import { writeLayerFromUpperDir } from '../../src/layer/index.js';
import { Collector, sha256, sh, TempDirs } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function gzipOf(chunks: Buffer[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  async function* source() {
    yield* chunks;
  }
  for await (const part of parallelGzip(source(), LAYER_GZIP)) parts.push(part);
  return Buffer.concat(parts);
}

/** Compressible but not trivial: text with random words. */
function sampleData(bytes: number): Buffer {
  const words = Array.from({ length: 500 }, () => randomBytes(6).toString('base64url'));
  const lines: string[] = [];
  let length = 0;
  while (length < bytes) {
    const line = `${words[(length * 7) % words.length]} ${words[(length * 13) % words.length]} ${length}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

describe('parallelGzip', () => {
  it.each([0, 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 12345])('produces one valid gzip member for %i bytes', async (size) => {
    const data = sampleData(size);
    // Odd chunk sizes so block boundaries fall inside chunks.
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += 70001) chunks.push(data.subarray(i, i + 70001));
    const gz = await gzipOf(chunks);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(data)).toBe(true);
    expect(gz.subarray(0, 10)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
  });

  it('gives the same bytes however the input is chunked, and compresses about as well as one zlib stream with the same settings', async () => {
    const data = sampleData(5 * 1024 * 1024);
    const whole = await gzipOf([data]);
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += 4096) pieces.push(data.subarray(i, i + 4096));
    expect((await gzipOf(pieces)).equals(whole)).toBe(true);
    const reference = gzipSync(data, LAYER_GZIP);
    expect(whole.length).toBeLessThan(reference.length * 1.02);
  });

  it('layers bigger than one block round-trip and stay reproducible', async () => {
    const upper = temp.make('pgz');
    sh(upper, 'head -c 3000000 /dev/urandom > random && yes "some text line" | head -c 2500000 > text');
    const write = async () => {
      const out = new Collector();
      const digests = await writeLayerFromUpperDir(upper, out, { compression: 'gzip' });
      return { digests, blob: out.bytes() };
    };
    const first = await write();
    const second = await write();
    expect(second.digests).toEqual(first.digests);
    expect(first.digests.diffID).toBe(sha256(gunzipSync(first.blob)));
    const listing = execFileSync('tar', ['-tzvf', '-'], { input: first.blob, encoding: 'utf8' });
    expect(listing).toMatch(/3000000 .* random/);
    expect(listing).toMatch(/2500000 .* text/);
  });
});

describe('parallelGzip on mixed layers', () => {
  const MiB = 1024 * 1024;
  /** Blocks of random bytes (stored) between blocks of text (deflated), boundaries off the 1 MiB grid. */
  function mixedData(): Buffer {
    return Buffer.concat([sampleData(MiB + 333), randomBytes(2 * MiB + 4321), sampleData(700_000), randomBytes(MiB), sampleData(1234)]);
  }

  async function* slowly(data: Buffer, chunk: number): AsyncGenerator<Buffer> {
    for (let i = 0; i < data.length; i += chunk) {
      // Other work in between: the thread pool finishes blocks in another order than in a tight loop.
      if ((i / chunk) % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      yield data.subarray(i, i + chunk);
    }
  }

  async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of parallelGzip(source, LAYER_GZIP)) parts.push(part);
    return Buffer.concat(parts);
  }

  it('round-trips, passes gzip -t and gives the same bytes whatever the timing of the thread pool', async () => {
    const data = mixedData();
    const alone = await gzipOf([data]);
    expect(gunzipSync(alone).equals(data)).toBe(true);
    execFileSync('gzip', ['-t'], { input: alone });
    // Random blocks are stored: the blob is barely larger than their bytes plus the deflated text.
    expect(alone.length).toBeLessThan(data.length);
    // Four at once, fed at different paces, compete for the same threads.
    const together = await Promise.all([collect(slowly(data, 65536)), collect(slowly(data, 1_000_003)), gzipOf([data]), collect(slowly(data, 12345))]);
    for (const gz of together) expect(gz.equals(alone)).toBe(true);
  });

  it('reads only a few blocks ahead of what it has written: a layer never sits whole in memory', async () => {
    const data = Buffer.concat([randomBytes(4 * MiB), sampleData(8 * MiB)]);
    let pulled = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for (let i = 0; i < data.length; i += 256 * 1024) {
        pulled += Math.min(256 * 1024, data.length - i);
        yield data.subarray(i, i + 256 * 1024);
      }
    }
    let blocksOut = 0;
    let furthestAhead = 0;
    const parts: Buffer[] = [];
    for await (const part of parallelGzip(counted(), LAYER_GZIP)) {
      parts.push(part);
      if (parts.length > 1) blocksOut += 1; // after the header, one part per block (then the trailer)
      furthestAhead = Math.max(furthestAhead, pulled - blocksOut * MiB);
    }
    expect(gunzipSync(Buffer.concat(parts)).equals(data)).toBe(true);
    expect(pulled).toBe(data.length);
    expect(furthestAhead).toBeLessThanOrEqual(5 * MiB);
  });
});
