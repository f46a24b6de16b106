import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { gzipCompressor, writeLayerFromUpperDir, type Compression } from '../../src/layer/index.js';
import { IGZIP_LEVEL, igzipCompress } from '../../src/layer/igzip.js';
import { parallelGzip } from '../../src/layer/parallel-gzip.js';
import { LAYER_GZIP } from '../../src/layer/compression.js';
import { Collector, sh, sha256, TempDirs } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function layerOf(upper: string, compression: Compression) {
  const out = new Collector();
  const digests = await writeLayerFromUpperDir(upper, out, { compression, sourceDateEpoch: 1700000000 });
  return { digests, blob: out.bytes() };
}

/** Text that compresses (so level choices show in the bytes) and a random file (stored as it is). */
function sampleTree(): string {
  const upper = temp.make('igzip');
  sh(upper, 'mkdir -p usr/share/doc etc && seq 1 200000 > usr/share/doc/numbers && head -c 2000000 /dev/urandom > etc/random && echo hi > etc/hostname');
  return upper;
}

async function zlibGzip(tar: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  async function* once() {
    yield tar;
  }
  for await (const chunk of parallelGzip(once(), LAYER_GZIP)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('gzip layers through igzip (package "isal", installed by bin/install-deps)', () => {
  it('is the compressor ribo picks where igzip is installed', async () => {
    const gzip = await gzipCompressor();
    expect(gzip).toEqual({ kind: 'igzip', path: expect.stringMatching(/\/igzip$/) });
  });

  it("writes igzip's own bytes for the layer's tar, with the header pinned as Go's gzip writes it, deterministically", async () => {
    const upper = sampleTree();
    const first = await layerOf(upper, 'gzip');
    const second = await layerOf(upper, 'gzip');
    const tar = (await layerOf(upper, 'none')).blob;

    expect(second.blob.equals(first.blob)).toBe(true);
    expect(first.digests).toMatchObject({ digest: sha256(first.blob), size: first.blob.length, diffID: sha256(tar) });
    expect(gunzipSync(first.blob).equals(tar)).toBe(true);
    // magic, deflate, no flags, mtime 0, no extra flags, OS 255 ("unknown")
    expect([...first.blob.subarray(0, 10)]).toEqual([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

    // The tool itself, run by hand on the same tar, gives the same deflate stream and trailer.
    const byHand = execFileSync('igzip', [`-${IGZIP_LEVEL}`, '-n', '-c'], { input: tar, maxBuffer: 1 << 28 });
    expect(first.blob.subarray(10).equals(byHand.subarray(10))).toBe(true);
  });

  it('differs from in-process zlib only in the compressed bytes: same tar, and the random file is stored rather than grown', async () => {
    const upper = sampleTree();
    const igzip = await layerOf(upper, 'gzip');
    const tar = (await layerOf(upper, 'none')).blob;
    const zlib = await zlibGzip(tar);
    expect(gunzipSync(zlib).equals(gunzipSync(igzip.blob))).toBe(true);
    expect(zlib.equals(igzip.blob)).toBe(false);
    // 2 MB of random data can only be stored: both stay within a fraction of a percent of the tar's size for it.
    expect(igzip.blob.length).toBeLessThan(tar.length);
    expect(igzip.blob.length).toBeGreaterThan(2_000_000);
  });

  it('names igzip and its package when it fails, whatever path it was found at', async () => {
    async function* input() {
      yield Buffer.from('some tar bytes');
    }
    // /bin/false stands for an igzip that exits with an error.
    const drained = (async () => {
      for await (const _ of igzipCompress('/bin/false', input())) void _;
    })();
    await expect(drained).rejects.toThrow(/^igzip \(package "isal"\) failed: compressing a layer: exit status 1$/);
  });
});
