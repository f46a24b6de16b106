import { execFileSync } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openArchiveFiles } from '../../src/image/archive/archive-files.js';
import { ArchiveError, archiveChunks, loadImages, resolveSaveItems } from '../../src/image/archive/index.js';
import { indexTarFile } from '../../src/image/archive/tar-index.js';
import { Store } from '../../src/store/index.js';
import { makeTempDir, removeTempDir, storeImage } from './support.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('image archives', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('archive');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  async function save(format: 'oci-archive' | 'docker-archive', file: string): Promise<void> {
    await storeImage(store, 'app:1', [[{ path: 'etc/' }, { path: 'etc/motd', content: 'hello' }], [{ path: 'etc/.wh.motd' }]]);
    await pipeline(Readable.from(archiveChunks(store, await resolveSaveItems(store, ['app:1']), format), { objectMode: false }), createWriteStream(file));
  }

  /** app:1 saved as an oci-archive and unpacked into a layout dir. */
  async function savedLayout(): Promise<string> {
    const file = path.join(dir, 'app.tar');
    await save('oci-archive', file);
    const layout = path.join(dir, 'layout');
    await fs.mkdir(layout);
    execFileSync('tar', ['-xf', file, '-C', layout]);
    return layout;
  }

  it('indexes a tar by its headers: long names (GNU and PAX), links, content offsets', async () => {
    const src = path.join(dir, 'src');
    const long = `${'d'.repeat(120)}/${'f'.repeat(110)}`;
    await fs.mkdir(path.join(src, 'd'.repeat(120)), { recursive: true });
    await fs.writeFile(path.join(src, long), 'long content');
    await fs.writeFile(path.join(src, 'short'), 'abc');
    await fs.symlink(long, path.join(src, 'link'));
    for (const format of ['gnu', 'pax']) {
      const tar = path.join(dir, `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-cf', tar, '-C', src, '.']);
      const index = await indexTarFile(tar);
      expect(index.get(long)).toMatchObject({ type: 'file', size: 12 });
      expect(index.get('link')).toMatchObject({ type: 'symlink', linkTarget: long });
      const files = await openArchiveFiles(tar, async () => path.join(dir, 'scratch'));
      expect(await readAll(await files.open('./link'))).toBe('long content');
      expect(await readAll(await files.open('short'))).toBe('abc');
      await expect(files.open('missing')).rejects.toThrow(/has no missing/);
    }
  });

  it('round-trips oci-archive and docker-archive, and reads a gzip-compressed archive', async () => {
    for (const format of ['oci-archive', 'docker-archive'] as const) {
      const file = path.join(dir, `${format}.tar`);
      await save(format, file);
      execFileSync('sh', ['-c', `gzip -c '${file}' > '${file}.gz'`]);
      const other = await Store.open(path.join(dir, `other-${format}`));
      const result = await loadImages(other, `${file}.gz`);
      expect(result.format).toBe(format);
      expect(result.tagged).toEqual(['app:1']);
      const loaded = await other.resolveImage('app:1');
      const original = await store.resolveImage('app:1');
      expect(loaded.config.rootfs.diff_ids).toEqual(original.config.rootfs.diff_ids);
      if (format === 'oci-archive') expect(loaded.manifestDescriptor.digest).toBe(original.manifestDescriptor.digest);
      expect(await fs.readdir(path.join(other.root, 'tmp'))).toEqual([]);
    }
  });

  it('refuses a layout whose blob does not match its digest: nothing tagged, nothing half-written', async () => {
    const layout = await savedLayout();
    const { manifest } = await store.resolveImage('app:1');
    const victim = path.join(layout, 'blobs/sha256', manifest.layers[1]!.digest.slice(7));
    const bytes = await fs.readFile(victim);
    bytes[bytes.length - 10] ^= 0xff;
    await fs.writeFile(victim, bytes);

    const other = await Store.open(path.join(dir, 'other'));
    const error = await loadImages(other, layout).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as Error).message).toContain(`${layout}: blobs/sha256/${manifest.layers[1]!.digest.slice(7)} does not match its digest`);
    expect(await other.indexEntries()).toEqual([]);
    expect(await fs.readdir(path.join(other.root, 'ingest'))).toEqual([]);
    expect(await other.hasBlob(manifest.layers[1]!.digest)).toBe(false);
  });

  it('refuses an oci-archive layer whose content is not the diffID its config names, checked as it is copied in', async () => {
    const layout = await savedLayout();
    // A config that swaps the layers' diffIDs, under a manifest and index.json that name it correctly.
    const blob = (digest: string) => path.join(layout, 'blobs/sha256', digest.slice(7));
    const put = async (value: unknown) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(bytes).digest('hex')}`;
      await fs.writeFile(blob(digest), bytes);
      return { digest, size: bytes.length };
    };
    const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await fs.readFile(blob(index.manifests[0].digest), 'utf8'));
    const config = JSON.parse(await fs.readFile(blob(manifest.config.digest), 'utf8'));
    config.rootfs.diff_ids.reverse();
    manifest.config = { ...manifest.config, ...(await put(config)) };
    index.manifests[0] = { ...index.manifests[0], ...(await put(manifest)) };
    await fs.writeFile(path.join(layout, 'index.json'), JSON.stringify(index));

    const other = await Store.open(path.join(dir, 'other'));
    await expect(loadImages(other, layout)).rejects.toThrow(/uncompressed content is sha256:\w+, but the image's config says sha256:/);
    expect(await other.indexEntries()).toEqual([]);
    expect(await fs.readdir(path.join(other.root, 'ingest'))).toEqual([]);
  });

  it('refuses a docker-archive layer whose content is not the diffID its config names', async () => {
    const file = path.join(dir, 'app.tar');
    await save('docker-archive', file);
    const unpacked = path.join(dir, 'docker');
    await fs.mkdir(unpacked);
    execFileSync('tar', ['-xf', file, '-C', unpacked]);
    const [entry] = JSON.parse(await fs.readFile(path.join(unpacked, 'manifest.json'), 'utf8'));
    // Swap the two layers' contents.
    const [first, second] = entry.Layers as string[];
    await fs.rename(path.join(unpacked, first!), path.join(unpacked, 'swap'));
    await fs.rename(path.join(unpacked, second!), path.join(unpacked, first!));
    await fs.rename(path.join(unpacked, 'swap'), path.join(unpacked, second!));
    const repacked = path.join(dir, 'repacked.tar');
    execFileSync('tar', ['-cf', repacked, '-C', unpacked, '.']);

    const other = await Store.open(path.join(dir, 'other'));
    await expect(loadImages(other, repacked)).rejects.toThrow(/has content sha256:\w+, but the image config says sha256:/);
    expect(await other.indexEntries()).toEqual([]);
    expect(await fs.readdir(path.join(other.root, 'ingest'))).toEqual([]);
  });

  it('says what a file is when it is no image archive', async () => {
    const file = path.join(dir, 'plain.tar');
    execFileSync('tar', ['-cf', file, '-C', dir, 'root/oci-layout']);
    await expect(loadImages(store, file)).rejects.toThrow(/neither an OCI layout \(no index.json\) nor a docker archive/);
    await fs.writeFile(path.join(dir, 'junk'), 'x'.repeat(2000));
    await expect(loadImages(store, path.join(dir, 'junk'))).rejects.toThrow(/is not a valid tar archive/);
    await expect(loadImages(store, path.join(dir, 'nope'))).rejects.toThrow(/does not exist/);
  });
});
