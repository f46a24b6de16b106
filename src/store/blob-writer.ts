import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Digest } from '../oci/image.js';
import { digestFromHash, sha256Hasher } from '../oci/digest.js';
import { DigestMismatchError } from './errors.js';
import { isErrno, syncDir } from './fsutil.js';
import path from 'node:path';

export interface BlobWriter {
  /** Write the blob's bytes here; they go to a temp file in ingest/. */
  readonly stream: NodeJS.WritableStream;
  /** Bytes written so far (for progress reports). */
  readonly bytesWritten: number;
  /**
   * Finish writing, verify the digest computed from the bytes written
   * (and `expected`, if given), and move the blob into blobs/. Idempotent
   * if the blob already exists.
   */
  commit(expected?: { digest?: Digest; size?: number }): Promise<{ digest: Digest; size: number }>;
  /** Discard what was written and remove the temp file. */
  abort(): Promise<void>;
}

/**
 * Streams bytes into a temp file while hashing them, so the digest is known
 * the moment writing ends without reading the file back.
 */
export class IngestWriter implements BlobWriter {
  readonly stream: Writable;
  private readonly hash = sha256Hasher();
  private size = 0;
  private state: 'open' | 'committed' | 'aborted' = 'open';
  private result?: { digest: Digest; size: number };

  private constructor(
    private readonly tempPath: string,
    private readonly handle: FileHandle,
    private readonly blobPathOf: (digest: Digest) => string,
  ) {
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.hash.update(chunk);
        this.size += chunk.length;
        handle.writeFile(chunk).then(() => callback(), callback);
      },
      final: (callback) => {
        // Flush before the rename in commit(), so a crash cannot publish a short blob.
        handle.sync().then(close).then(() => callback(), callback);
      },
      destroy: (error, callback) => {
        close().then(() => callback(error), (closeError) => callback(error ?? closeError));
      },
    });
  }

  get bytesWritten(): number {
    return this.size;
  }

  static async create(tempPath: string, blobPathOf: (digest: Digest) => string): Promise<IngestWriter> {
    const handle = await fs.open(tempPath, 'wx', 0o644);
    return new IngestWriter(tempPath, handle, blobPathOf);
  }

  async commit(expected: { digest?: Digest; size?: number } = {}): Promise<{ digest: Digest; size: number }> {
    if (this.state === 'committed') return this.result!;
    if (this.state === 'aborted') throw new Error('BlobWriter.commit called after abort');
    try {
      if (!this.stream.writableEnded) this.stream.end();
      await finished(this.stream);
    } catch (error) {
      await this.abort();
      throw error;
    }
    const actual = { digest: digestFromHash(this.hash), size: this.size };
    const digestWrong = expected.digest !== undefined && expected.digest !== actual.digest;
    const sizeWrong = expected.size !== undefined && expected.size !== actual.size;
    if (digestWrong || sizeWrong) {
      await this.abort();
      throw new DigestMismatchError(expected, actual, 'Writing a blob into the image store');
    }
    const target = this.blobPathOf(actual.digest);
    try {
      // Same digest means same bytes, so replacing an existing blob is harmless.
      await fs.rename(this.tempPath, target);
    } catch (error) {
      await fs.rm(this.tempPath, { force: true });
      if (!isErrno(error, 'EEXIST')) throw error;
    }
    await syncDir(path.dirname(target));
    this.state = 'committed';
    this.result = actual;
    return actual;
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    if (!this.stream.destroyed) this.stream.destroy();
    await finished(this.stream).catch(() => undefined);
    await fs.rm(this.tempPath, { force: true });
  }
}
