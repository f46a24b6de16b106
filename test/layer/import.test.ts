import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CorruptArchiveError, TruncatedArchiveError, UnsafePathError, writeLayerFromTarStream } from '../../src/layer/index.js';
import { Collector, listTar, sha256, sh, streamOf, tarOf, TempDirs } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function importTar(input: Buffer, compression: 'gzip' | 'none' = 'gzip') {
  const out = new Collector();
  const digests = await writeLayerFromTarStream(streamOf(input, 4096), out, { compression });
  return { digests, blob: out.bytes() };
}

describe('writeLayerFromTarStream', () => {
  it('stores a rootfs tarball unchanged (diffID = sha256 of the tar) from plain or gzip input', async () => {
    const dir = temp.make('import');
    sh(dir, 'mkdir -p rootfs/etc rootfs/bin && echo x > rootfs/etc/os-release && ln -s busybox rootfs/bin/sh && tar --numeric-owner -cf rootfs.tar -C rootfs .');
    const tar = readFileSync(join(dir, 'rootfs.tar'));

    const fromPlain = await importTar(tar);
    expect(fromPlain.digests.diffID).toBe(sha256(tar));
    expect(gunzipSync(fromPlain.blob).equals(tar)).toBe(true);
    expect(fromPlain.digests).toMatchObject({ digest: sha256(fromPlain.blob), size: fromPlain.blob.length });

    const fromGzip = await importTar(gzipSync(tar, { level: 1 }));
    expect(fromGzip.digests).toEqual(fromPlain.digests);

    const uncompressed = await importTar(tar, 'none');
    expect(uncompressed.blob.equals(tar)).toBe(true);
    expect(uncompressed.digests.digest).toBe(sha256(tar));
    expect((await listTar(fromPlain.blob)).map((entry) => entry.path)).toContain('./etc/os-release');
  });

  it('rejects truncated, corrupt and unsafe archives', async () => {
    const tar = await tarOf([{ path: 'f', type: 'file', text: 'y'.repeat(4000) }]);
    await expect(importTar(tar.subarray(0, 2048))).rejects.toBeInstanceOf(TruncatedArchiveError);
    const gz = gzipSync(tar);
    await expect(importTar(gz.subarray(0, gz.length - 4))).rejects.toBeInstanceOf(CorruptArchiveError);
    await expect(importTar(Buffer.from('<html>not found</html>'.repeat(50)))).rejects.toBeInstanceOf(CorruptArchiveError);
    await expect(importTar(await tarOf([{ path: '../etc/shadow', type: 'file' }]))).rejects.toBeInstanceOf(UnsafePathError);
    await expect(importTar(await tarOf([{ path: 'h', type: 'hardlink', linkTarget: '/etc/shadow' }]))).rejects.toBeInstanceOf(UnsafePathError);
  });

  it('ends the output stream so a file written to is complete', async () => {
    const dir = temp.make('import-file');
    const tar = await tarOf([{ path: 'a', type: 'file', text: 'a' }]);
    const path = join(dir, 'blob');
    const digests = await writeLayerFromTarStream(streamOf(tar), createWriteStream(path), { compression: 'gzip' });
    const written = readFileSync(path);
    expect(written.length).toBe(digests.size);
    expect(sha256(written)).toBe(digests.digest);
  });
});
