import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256Of } from '../../src/oci/digest.js';
import { BlobNotFoundError, CorruptBlobError, DigestMismatchError, Store } from '../../src/store/index.js';
import { listDir, makeTempDir, removeTempDir } from './support.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe('Store blobs', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('store-blobs');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  it('creates an OCI layout on open', async () => {
    expect(JSON.parse(await fs.readFile(path.join(store.root, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await fs.readFile(path.join(store.root, 'index.json'), 'utf8'));
    expect(index).toMatchObject({ schemaVersion: 2, manifests: [] });
    for (const sub of ['blobs/sha256', 'ingest', 'layers', 'tmp']) {
      expect((await fs.stat(path.join(store.root, sub))).isDirectory()).toBe(true);
    }
  });

  it('streams a blob in, names it by digest and reads it back', async () => {
    const content = Buffer.alloc(3 * 1024 * 1024 + 7, 'ab');
    const writer = await store.ingest();
    await pipeline(Readable.from([content.subarray(0, 1000), content.subarray(1000)]), writer.stream);
    const result = await writer.commit({ digest: sha256Of(content), size: content.length });
    expect(result).toEqual({ digest: sha256Of(content), size: content.length });
    expect(store.blobPath(result.digest)).toBe(path.join(store.root, 'blobs/sha256', result.digest.slice(7)));
    expect(await store.hasBlob(result.digest)).toBe(true);
    expect((await readAll(store.openBlob(result.digest))).equals(content)).toBe(true);
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
  });

  it('commits without an explicit end() and is idempotent for an existing blob', async () => {
    const first = await store.ingest();
    first.stream.write('same bytes');
    const a = await first.commit();
    expect(await first.commit()).toEqual(a);
    const second = await store.ingest();
    second.stream.write('same bytes');
    expect(await second.commit({ digest: a.digest })).toEqual(a);
    expect(await fs.readFile(store.blobPath(a.digest), 'utf8')).toBe('same bytes');
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
  });

  it('rejects a digest mismatch and leaves nothing behind', async () => {
    const writer = await store.ingest();
    writer.stream.write('actual content');
    const wrong = sha256Of('other content');
    await expect(writer.commit({ digest: wrong })).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.hasBlob(wrong)).toBe(false);
    expect(await store.hasBlob(sha256Of('actual content'))).toBe(false);
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
    expect(await listDir(path.join(store.root, 'blobs/sha256'))).toEqual([]);
  });

  it('rejects a size mismatch with a message naming both sizes', async () => {
    const writer = await store.ingest();
    writer.stream.write('12345');
    const error = await writer.commit({ size: 6 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toMatch(/6 bytes.*5 bytes/);
    expect(await listDir(path.join(store.root, 'blobs/sha256'))).toEqual([]);
  });

  it('reports a failed write through commit(), even when it strikes between two writes of the caller', async () => {
    const writer = await store.ingest();
    writer.stream.write(Buffer.alloc(2 * 1024 * 1024, 'x'));
    // As a full disk does while the caller is still reading its source: the stream errors with no
    // caller listening (an unhandled 'error' event would end the process).
    const closed = new Promise((resolve) => writer.stream.once('close', resolve));
    (writer.stream as Writable).destroy(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    await closed;
    await expect(writer.commit()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
    expect(await listDir(path.join(store.root, 'blobs/sha256'))).toEqual([]);
  });

  it('abort removes the temp file and stores nothing', async () => {
    const writer = await store.ingest();
    writer.stream.write('partial');
    expect(await listDir(path.join(store.root, 'ingest'))).toHaveLength(1);
    await writer.abort();
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
    expect(await listDir(path.join(store.root, 'blobs/sha256'))).toEqual([]);
  });

  it('streams several large blobs at once, in uneven pieces, byte for byte', async () => {
    // Large enough that the writers batch their writes and flush to disk while writing.
    const contents = [randomBytes(21 * 1024 * 1024 + 13), randomBytes(17 * 1024 * 1024), randomBytes(9 * 1024 * 1024 + 1)];
    const pieces = (content: Buffer) => {
      const out: Buffer[] = [];
      for (let at = 0, n = 1; at < content.length; n += 1) {
        const size = (n * 7919) % (200 * 1024) + 1;
        out.push(content.subarray(at, at + size));
        at += size;
      }
      return out;
    };
    const results = await Promise.all(
      contents.map(async (content) => {
        const writer = await store.ingest();
        await pipeline(Readable.from(pieces(content)), writer.stream);
        return writer.commit({ digest: sha256Of(content), size: content.length });
      }),
    );
    for (const [i, content] of contents.entries()) {
      expect(results[i]).toEqual({ digest: sha256Of(content), size: content.length });
      expect((await fs.readFile(store.blobPath(results[i]!.digest))).equals(content)).toBe(true);
    }
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
  });

  it('abort in the middle of a large blob leaves nothing behind', async () => {
    const content = randomBytes(12 * 1024 * 1024);
    const writer = await store.ingest();
    for (let at = 0; at < content.length; at += 64 * 1024) {
      if (!writer.stream.write(content.subarray(at, at + 64 * 1024))) await new Promise((resolve) => writer.stream.once('drain', resolve));
    }
    await writer.abort();
    expect(await listDir(path.join(store.root, 'ingest'))).toEqual([]);
    expect(await listDir(path.join(store.root, 'blobs/sha256'))).toEqual([]);
  });

  it('openBlob throws a typed error naming a missing digest', () => {
    const missing = sha256Of('never written');
    expect(() => store.openBlob(missing)).toThrow(BlobNotFoundError);
    expect(() => store.openBlob(missing)).toThrow(missing);
  });

  it('openBlob and readJSON detect a blob whose bytes were damaged', async () => {
    const descriptor = await store.writeJSON('application/json', { hello: 'world' });
    await fs.writeFile(store.blobPath(descriptor.digest), '{"hello":"w0rld"}');
    await expect(readAll(store.openBlob(descriptor.digest))).rejects.toBeInstanceOf(CorruptBlobError);
    await expect(store.readJSON(descriptor.digest)).rejects.toBeInstanceOf(CorruptBlobError);
  });

  it('writeJSON leaves a blob it already holds in place, and writes again one cut short', async () => {
    const first = await store.writeJSON('application/json', { hello: 'world' });
    const file = store.blobPath(first.digest);
    const before = await fs.stat(file);
    expect(await store.writeJSON('application/json', { hello: 'world' })).toEqual(first);
    expect((await fs.stat(file)).ino).toBe(before.ino);
    await fs.writeFile(file, '{"hello"');
    expect(await store.writeJSON('application/json', { hello: 'world' })).toEqual(first);
    expect(await store.readJSON(first.digest)).toEqual({ hello: 'world' });
  });

  it('readJSON of a missing blob names the digest', async () => {
    const missing = sha256Of('{}');
    await expect(store.readJSON(missing)).rejects.toThrow(new RegExp(missing));
  });

  it('writeJSON produces the same bytes whatever the key order', async () => {
    const a = await store.writeJSON('application/json', { b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } });
    const b = await store.writeJSON('application/json', { a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 });
    expect(b).toEqual(a);
    expect(await fs.readFile(store.blobPath(a.digest), 'utf8')).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(a).toEqual({ mediaType: 'application/json', digest: sha256Of('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}'), size: 43 });
    expect(await store.readJSON(a.digest)).toEqual({ a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 });
  });

  it('rejects malformed digests instead of building odd paths', () => {
    expect(() => store.blobPath('sha256:../../etc/passwd')).toThrow(/not a valid digest/);
  });

  it('refuses a layout with an unknown version', async () => {
    const other = path.join(dir, 'other');
    await fs.mkdir(other);
    await fs.writeFile(path.join(other, 'oci-layout'), '{"imageLayoutVersion":"9.9.9"}');
    await expect(Store.open(other)).rejects.toThrow(/9\.9\.9/);
  });
});

describe('Store.openBlob early close', () => {
  it('closes the blob file when the reader stops early', async () => {
    const dir = makeTempDir('store-blob-close');
    try {
      const store = await Store.open(path.join(dir, 'root'));
      const writer = await store.ingest();
      writer.stream.write(Buffer.alloc(1024 * 1024, 1));
      const { digest } = await writer.commit();
      const openFds = async () => (await fs.readdir('/proc/self/fd')).length;
      const before = await openFds();
      const stream = store.openBlob(digest);
      expect(await openFds()).toBe(before + 1);
      for await (const _chunk of stream) break;
      // The close runs on libuv's thread pool: wait for it (up to a minute on a loaded machine), not a fixed time.
      for (const deadline = Date.now() + 60_000; (await openFds()) !== before && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await openFds()).toBe(before);
    } finally {
      await removeTempDir(dir);
    }
  });
});
