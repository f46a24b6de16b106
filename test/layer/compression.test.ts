import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { applyLayer, CorruptArchiveError, UnsafePathError, writeLayerFromTarStream, writeLayerFromUpperDir, type Compression } from '../../src/layer/index.js';
import { Collector, describeTree, listTar, names, sha256, sh, streamOf, tarOf, TempDirs } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

function unzstd(blob: Buffer): Buffer {
  return execFileSync('zstd', ['-d', '-c', '-q'], { input: blob, maxBuffer: 1 << 28 });
}

async function layerOf(upper: string, compression: Compression) {
  const out = new Collector();
  const digests = await writeLayerFromUpperDir(upper, out, { compression, sourceDateEpoch: 1700000000 });
  return { digests, blob: out.bytes() };
}

function zstdProcesses(): string[] {
  return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /\bzstd\b/.test(line));
}

function sampleTree(withWhiteout = true): string {
  const upper = temp.make('zstd');
  sh(upper, 'mkdir -p etc/d && echo hi > etc/hostname && head -c 3000000 /dev/urandom | base64 > etc/d/big && ln -s hostname etc/link');
  if (withWhiteout) sh(upper, 'mknod gone c 0 0');
  return upper;
}

describe('layer compression', () => {
  it('writes the same tar three ways: gzip, zstd and none share the diffID; each digest is over its own bytes', async () => {
    const upper = sampleTree();
    const gzip = await layerOf(upper, 'gzip');
    const zstd = await layerOf(upper, 'zstd');
    const none = await layerOf(upper, 'none');

    expect(zstd.blob.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    expect(zstd.digests.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(gzip.digests.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(none.digests.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    expect(zstd.digests).toMatchObject({ digest: sha256(zstd.blob), size: zstd.blob.length });

    // The zstd tool itself agrees on the content, and it is the same tar gzip carries.
    const tar = unzstd(zstd.blob);
    expect(tar.equals(gunzipSync(gzip.blob))).toBe(true);
    expect(tar.equals(none.blob)).toBe(true);
    expect(sha256(tar)).toBe(zstd.digests.diffID);
    expect(zstd.digests.diffID).toBe(gzip.digests.diffID);
    expect(names(await listTar(tar))).toEqual(['.wh.gone', 'etc/', 'etc/d/', 'etc/d/big', 'etc/hostname', 'etc/link']);
    expect(zstd.blob.length).toBeLessThan(none.blob.length);
  });

  it('compresses deterministically: the same tree gives the same zstd bytes', async () => {
    const upper = sampleTree();
    const first = await layerOf(upper, 'zstd');
    const second = await layerOf(upper, 'zstd');
    expect(second.blob.equals(first.blob)).toBe(true);
    expect(second.digests).toEqual(first.digests);
  });

  it('applies a zstd layer, including one made by the zstd tool itself', async () => {
    const upper = sampleTree(false);
    const { blob } = await layerOf(upper, 'zstd');
    const mine = temp.make('zstd-apply');
    await applyLayer(streamOf(blob), mine, { mode: 'lower' });

    const dir = temp.make('zstd-foreign');
    sh(upper, `tar --numeric-owner -cf ${dir}/layer.tar . && zstd -q -19 ${dir}/layer.tar -o ${dir}/layer.tar.zst`);
    const theirs = temp.make('zstd-apply');
    await applyLayer(streamOf(readFileSync(join(dir, 'layer.tar.zst'))), theirs, { mode: 'lower' });
    expect(describeTree(theirs, { mtimes: false })).toEqual(describeTree(mine, { mtimes: false }));
    expect(readFileSync(join(mine, 'etc/hostname'), 'utf8')).toBe('hi\n');
  });

  it('imports a .tar.zst as it is and re-compresses it as asked', async () => {
    const tar = await tarOf([{ path: 'etc/', type: 'directory' }, { path: 'etc/os-release', type: 'file', text: 'ID=test\n' }]);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    for (const compression of ['gzip', 'zstd', 'none'] as const) {
      const out = new Collector();
      const digests = await writeLayerFromTarStream(streamOf(zst), out, { compression });
      expect(digests.diffID).toBe(sha256(tar));
      expect(digests.digest).toBe(sha256(out.bytes()));
    }
  });

  it('refuses truncated and damaged zstd data with a clear error and leaves no zstd process behind', async () => {
    const upper = sampleTree();
    const { blob } = await layerOf(upper, 'zstd');
    const target = temp.make('zstd-bad');
    const truncated = applyLayer(streamOf(blob.subarray(0, Math.floor(blob.length / 2))), target, { mode: 'merge' });
    await expect(truncated).rejects.toBeInstanceOf(CorruptArchiveError);
    await expect(truncated).rejects.toThrow(/zstd data is damaged or incomplete/);

    const damaged = Buffer.from(blob);
    for (let i = 100; i < 400; i++) damaged[i] ^= 0xa5;
    await expect(applyLayer(streamOf(damaged), temp.make('zstd-bad'), { mode: 'merge' })).rejects.toBeInstanceOf(CorruptArchiveError);
    expect(zstdProcesses()).toEqual([]);
  });

  it('stops zstd when the archive inside is unsafe, with the unsafe-path error', async () => {
    const hostile = execFileSync('zstd', ['-q', '-c'], { input: await tarOf([{ path: '../escape', type: 'file', text: 'x' }]) });
    const dir = temp.make('zstd-hostile');
    writeFileSync(join(dir, 'blob'), '');
    await expect(writeLayerFromTarStream(streamOf(hostile), new Collector(), { compression: 'zstd' })).rejects.toBeInstanceOf(UnsafePathError);
    await expect(applyLayer(streamOf(hostile), join(dir), { mode: 'merge' })).rejects.toBeInstanceOf(UnsafePathError);
    expect(zstdProcesses()).toEqual([]);
  });
});
