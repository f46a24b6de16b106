import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Digest } from '../oci/image.js';
import { digestFromHash, sha256Hasher } from '../oci/digest.js';
import { DigestMismatchError } from './errors.js';
import { moveIntoPlace } from '../files/atomic-write.js';
import { isErrno } from '../files/errno.js';
import { asDiskFull } from '../files/disk-full.js';
import { syncDir } from '../files/sync.js';
import path from 'node:path';

const WRITE_BATCH_BYTES = 1024 * 1024;
/** A writer starts flushing its file to disk in the background after this many bytes more. */
const FLUSH_BEHIND_BYTES = 8 * 1024 * 1024;

/**
 * Background flushes (fdatasync while the file is still being written) let the
 * disk work while data keeps arriving, so the fsync before a blob's rename has
 * only the last few megabytes left to wait for. They run in libuv's file-system
 * threads, four for the whole process, which the writes need too; so one
 * flush at a time in the process, and a writer that finds it taken skips its
 * turn. This is a limit on a process-wide resource, not state of any store.
 */
class BackgroundFlush {
  private running = false;

  get idle(): boolean {
    return !this.running;
  }

  async run(flush: () => Promise<void>): Promise<void> {
    this.running = true;
    try {
      await flush();
    } finally {
      this.running = false;
    }
  }
}
const backgroundFlush = new BackgroundFlush();

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
  private batch: Buffer[] = [];
  private batched = 0;
  /** Bytes written to the file since its last background flush started. */
  private unflushed = 0;
  private flushing?: Promise<void>;
  private flushError?: unknown;
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
      await this.flushing;
      await handle.close();
    };
    this.stream = new Writable({
      highWaterMark: WRITE_BATCH_BYTES,
      write: (chunk: Buffer, _encoding, callback) => {
        this.hash.update(chunk);
        this.size += chunk.length;
        this.batch.push(chunk);
        this.batched += chunk.length;
        if (this.batched < WRITE_BATCH_BYTES) return callback();
        this.writeBatch().then(() => callback(), callback);
      },
      final: (callback) => {
        // Flush before the rename in commit(), so a crash cannot publish a short blob.
        this.writeBatch()
          .then(() => this.finishFlushing())
          .then(() => handle.sync())
          .then(close)
          .then(() => callback(), callback);
      },
      destroy: (error, callback) => {
        close().then(() => callback(error), (closeError) => callback(error ?? closeError));
      },
    });
    // A write that fails (a full disk) errors the stream; commit() reports it (finished() rejects with it).
    // Without a listener here, a caller between two writes would crash the process with it instead.
    this.stream.on('error', () => undefined);
  }

  /** Chunks (socket reads are 64 KiB at most) go to the file about 1 MiB at a time, in one writev(2) and without a copy. */
  private async writeBatch(): Promise<void> {
    const buffers = this.batch;
    const length = this.batched;
    if (length === 0) return;
    this.batch = [];
    this.batched = 0;
    const { bytesWritten } = await this.handle.writev(buffers);
    // A regular file takes all of it unless the disk fills up; the rest then gets the error.
    if (bytesWritten < length) await this.handle.writeFile(Buffer.concat(buffers, length).subarray(bytesWritten));
    this.unflushed += length;
    if (this.unflushed >= FLUSH_BEHIND_BYTES && !this.flushing && backgroundFlush.idle) {
      this.unflushed = 0;
      this.flushing = backgroundFlush.run(() => this.handle.datasync()).then(
        () => {
          this.flushing = undefined;
        },
        (error: unknown) => {
          // Kept for final(): a writeback error is reported once, and the fsync there might not see it again.
          this.flushError ??= error;
          this.flushing = undefined;
        },
      );
    }
  }

  private async finishFlushing(): Promise<void> {
    await this.flushing;
    if (this.flushError) throw this.flushError;
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
      throw asDiskFull(error, `a blob (${this.tempPath})`, path.dirname(path.dirname(this.tempPath)));
    }
    const actual = { digest: digestFromHash(this.hash), size: this.size };
    const digestWrong = expected.digest !== undefined && expected.digest !== actual.digest;
    const sizeWrong = expected.size !== undefined && expected.size !== actual.size;
    if (digestWrong || sizeWrong) {
      await this.abort();
      throw new DigestMismatchError(expected, actual, 'Writing a blob into the image store');
    }
    const target = this.blobPathOf(actual.digest);
    // Same digest means same bytes, so replacing an existing blob is harmless.
    await moveIntoPlace(this.tempPath, target).catch((error: unknown) => {
      if (!isErrno(error, 'EEXIST')) throw error;
    });
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
