/** The blobs/sha256 directory: content read back only after its digest is checked, written only through ingest/ and a rename. */
import { createReadStream, openSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import type { Descriptor, Digest } from '../oci/image.js';
import { assertDigest, digestFromHash, digestHex, sha256Hasher, sha256Of } from '../oci/digest.js';
import { isErrno } from '../files/errno.js';
import { IngestWriter, type BlobWriter } from './blob-writer.js';
import { canonicalJSON } from './canonical-json.js';
import { assertConfigLimits } from './config-limits.js';
import { BlobNotFoundError, BlobTooLargeError, CorruptBlobError, JSON_BLOB_LIMITS, type JsonBlobKind } from './errors.js';
import type { StoreLayout } from './layout.js';

export class BlobStore {
  constructor(private readonly layout: StoreLayout) {}

  blobPath(digest: Digest): string {
    return path.join(this.layout.root, 'blobs', 'sha256', digestHex(assertDigest(digest, 'Blob digest')));
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    try {
      return (await fs.stat(this.blobPath(digest))).isFile();
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw error;
    }
  }

  /** Every blob in blobs/sha256, with its size. */
  async listBlobs(): Promise<Array<{ digest: Digest; size: number }>> {
    const dir = path.join(this.layout.root, 'blobs', 'sha256');
    const blobs: Array<{ digest: Digest; size: number }> = [];
    for (const name of await fs.readdir(dir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const info = await fs.lstat(path.join(dir, name)).catch(() => undefined);
      if (info?.isFile()) blobs.push({ digest: `sha256:${name}`, size: info.size });
    }
    return blobs;
  }

  /** Delete a blob (garbage collection only: call inside withExclusiveUse). */
  async removeBlob(digest: Digest): Promise<void> {
    await fs.rm(this.blobPath(digest), { force: true });
  }

  /** Stream a blob; the stream errors with CorruptBlobError if the bytes do not match the digest. */
  openBlob(digest: Digest): NodeJS.ReadableStream {
    const file = this.blobPath(digest);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new BlobNotFoundError(digest, file);
      throw error;
    }
    const hash = sha256Hasher();
    const verifier = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const actual = digestFromHash(hash);
        callback(actual === digest ? null : new CorruptBlobError(digest, file, `its content hashes to ${actual}`));
      },
    });
    const source = createReadStream(file, { fd });
    source.on('error', (error) => verifier.destroy(error));
    // A consumer that stops early destroys the verifier; release the file too.
    verifier.on('close', () => source.destroy());
    return source.pipe(verifier);
  }

  /**
   * Read a JSON blob (manifest, config, index), checking its size (the limit of `kind`) and digest first;
   * a config is held to CONFIG_LIMITS too, and `where` (the image) names it in that error.
   */
  async readJSON<T>(digest: Digest, kind: JsonBlobKind = 'config', where?: string): Promise<T> {
    const file = this.blobPath(digest);
    let bytes: Buffer;
    try {
      const stat = await fs.stat(file);
      if (stat.size > JSON_BLOB_LIMITS[kind]) throw new BlobTooLargeError(digest, kind, stat.size, file);
      bytes = await fs.readFile(file);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new BlobNotFoundError(digest, file);
      throw error;
    }
    const actual = sha256Of(bytes);
    if (actual !== digest) throw new CorruptBlobError(digest, file, `its content hashes to ${actual}`);
    let value: T;
    try {
      value = JSON.parse(bytes.toString('utf8')) as T;
    } catch (error) {
      throw new CorruptBlobError(digest, file, `it is not JSON: ${(error as Error).message}`);
    }
    if (kind === 'config') assertConfigLimits(value, where ?? `Image config ${digest}`);
    return value;
  }

  /** Store `value` as canonical JSON (sorted keys, no spaces) and describe it. */
  async writeJSON(mediaType: string, value: unknown): Promise<Descriptor> {
    const bytes = Buffer.from(canonicalJSON(value), 'utf8');
    // Blobs are only ever renamed into place whole, so one of the same digest and size is this one:
    // a fully cached build writes its config and manifest again without two more fsyncs.
    const digest = sha256Of(bytes);
    const existing = await fs.stat(this.blobPath(digest)).catch(() => undefined);
    if (existing?.isFile() && existing.size === bytes.length) return { mediaType, digest, size: bytes.length };
    const writer = await this.ingest();
    writer.stream.write(bytes);
    const { size } = await writer.commit({ digest });
    return { mediaType, digest, size };
  }

  /** Start writing a blob of not-yet-known digest. */
  async ingest(): Promise<BlobWriter> {
    return IngestWriter.create(this.layout.ingestPath('blob'), (digest) => this.blobPath(digest));
  }
}
