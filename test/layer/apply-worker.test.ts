/**
 * applyLayer in a worker thread (LayerUnpackWorker), as a pull unpacks its
 * layers: the same tree as applyLayer on this thread, several layers at once,
 * and the same typed errors when a layer is bad or the thread goes away.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { applyLayer, CorruptArchiveError, DiffIDMismatchError, LayerUnpackWorker, UnpackWorkerError } from '../../src/layer/index.js';
import { describeTree, sha256, streamOf, tarOf, TempDirs, type EntrySpec } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

function emptyDir(name: string): string {
  const dir = join(temp.make('worker'), name);
  mkdirSync(dir);
  return dir;
}

/** A layer of `files` text files of `size` bytes each (different content each), plus a dir, a symlink and a whiteout. */
async function layer(tag: string, files: number, size: number): Promise<Buffer> {
  const specs: EntrySpec[] = [{ path: `${tag}/`, type: 'directory' }];
  for (let i = 0; i < files; i++) {
    const unit = `${tag}-${i}-`;
    specs.push({ path: `${tag}/f${i}`, type: 'file', text: unit.repeat(Math.ceil(size / unit.length)).slice(0, size) });
  }
  specs.push({ path: `${tag}/link`, type: 'symlink', linkTarget: 'f0' }, { path: `${tag}/.wh.gone`, type: 'file' });
  return tarOf(specs);
}

describe('LayerUnpackWorker', () => {
  it('unpacks several gzip layers at once into the trees applyLayer makes here, with their diffIDs checked', async () => {
    const worker = new LayerUnpackWorker();
    try {
      const tars = await Promise.all([layer('a', 3, 3_000_000), layer('b', 40, 20_000), layer('c', 1, 5_000_000)]);
      const viaWorker = tars.map((_, i) => emptyDir(`worker-${i}`));
      await Promise.all(tars.map((tar, i) => worker.apply(streamOf(gzipSync(tar), 65536), viaWorker[i]!, { mode: 'lower', expectedDiffID: sha256(tar), what: `layer ${i}` })));
      for (const [i, tar] of tars.entries()) {
        const here = emptyDir(`here-${i}`);
        await applyLayer(streamOf(gzipSync(tar), 65536), here, { mode: 'lower' });
        expect(describeTree(viaWorker[i]!, { mtimes: false })).toEqual(describeTree(here, { mtimes: false }));
      }
      expect(describeTree(viaWorker[0]!)).toContainEqual(expect.stringMatching(/^a\/f2 f mode=644 0:0 mtime=\d+ 3000000 /));
    } finally {
      await worker.close();
    }
  });

  it('rejects a damaged layer with the same error class and message, while a good one beside it completes', async () => {
    const worker = new LayerUnpackWorker();
    try {
      const good = await layer('good', 2, 2_000_000);
      const damaged = await layer('bad', 4, 600_000);
      // One byte of the second file's header (its mode field).
      damaged[damaged.indexOf('bad/f1\0') + 100] ^= 0x01;
      const results = await Promise.allSettled([
        worker.apply(streamOf(gzipSync(good)), emptyDir('good'), { mode: 'lower', expectedDiffID: sha256(good), what: 'Layer sha256:good' }),
        worker.apply(streamOf(gzipSync(damaged)), emptyDir('bad'), { mode: 'lower', expectedDiffID: sha256(damaged), what: 'Layer sha256:bad' }),
      ]);
      expect(results[0].status).toBe('fulfilled');
      const error = (results[1] as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(CorruptArchiveError);
      expect(error.message).toContain('a header checksum does not match');
    } finally {
      await worker.close();
    }
  });

  it('rejects a layer whose content is not its diffID with DiffIDMismatchError naming the layer', async () => {
    const worker = new LayerUnpackWorker();
    try {
      const tar = await layer('x', 1, 1000);
      const claimed = `sha256:${'0'.repeat(64)}`;
      const error = await worker.apply(streamOf(tar), emptyDir('forged'), { mode: 'lower', expectedDiffID: claimed, what: 'Layer sha256:forged of image evil' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DiffIDMismatchError);
      expect((error as DiffIDMismatchError).expected).toBe(claimed);
      expect((error as Error).message).toContain('Layer sha256:forged of image evil: the layer\'s uncompressed content is');
    } finally {
      await worker.close();
    }
  });

  it('fails a layer still unpacking when its thread stops, naming the layer', async () => {
    const worker = new LayerUnpackWorker();
    const tar = await layer('slow', 1, 4_000_000);
    // Half the layer, then nothing: the unpacking waits for bytes that never come.
    const stalled = Readable.from((async function* () {
      yield tar.subarray(0, 2_000_000);
      await new Promise(() => undefined);
    })());
    const applying = worker.apply(stalled, emptyDir('stalled'), { mode: 'lower', expectedDiffID: sha256(tar), what: 'Layer sha256:stalled of image slow' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await worker.close();
    const error = await applying.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnpackWorkerError);
    expect((error as Error).message).toContain('Layer sha256:stalled of image slow: the thread unpacking it stopped');
  });

  it('stops unpacking when its input fails, and rejects with the input\'s error', async () => {
    const worker = new LayerUnpackWorker();
    try {
      const tar = await layer('cut', 2, 3_000_000);
      const cut = Readable.from((async function* () {
        yield tar.subarray(0, 1_000_000);
        throw new Error('the download was cut off');
      })());
      const error = await worker.apply(cut, emptyDir('cut'), { mode: 'lower', expectedDiffID: sha256(tar), what: 'Layer sha256:cut' }).catch((e: unknown) => e);
      expect((error as Error).message).toBe('the download was cut off');
      // The thread is still there for the next layer.
      const next = await layer('next', 1, 10);
      await worker.apply(streamOf(next), emptyDir('next'), { mode: 'lower', expectedDiffID: sha256(next), what: 'Layer sha256:next' });
    } finally {
      await worker.close();
    }
  });

  it('starts ahead of its first layer, then unpacks a zstd layer (zstd loaded only then); closing twice is fine', async () => {
    const worker = new LayerUnpackWorker();
    worker.start();
    try {
      const tar = await layer('z', 2, 100_000);
      const zstd = execFileSync('zstd', ['-q', '-3', '-c'], { input: tar });
      const dir = emptyDir('zstd');
      await worker.apply(streamOf(zstd, 65536), dir, { mode: 'lower', expectedDiffID: sha256(tar), what: 'a zstd layer' });
      expect(describeTree(dir)).toContainEqual(expect.stringMatching(/^z\/f1 f mode=644 0:0 mtime=\d+ 100000 /));
    } finally {
      await worker.close();
      await worker.close();
    }
  });
});

/**
 * What the unpacking thread loads before its first layer is on a pull's
 * critical path: it must not load a package (execa alone was a hundred
 * modules, 0.1 s); those are imported when first needed.
 */
describe("the unpacking thread's start-up", () => {
  const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');
  const staticImports = (file: string): string[] =>
    [...readFileSync(file, 'utf8').matchAll(/^\s*import\s(?!type\b)[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => (m[1] ?? m[2])!);

  it('imports nothing but Node built-ins and ribo modules, statically', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(file)) {
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        else if (!spec.startsWith('node:')) packages.add(spec);
      }
    };
    visit(join(src, 'layer/apply-worker-main.ts'));
    expect(seen.size).toBeGreaterThan(5);
    expect([...packages]).toEqual([]);
  });
});
