/**
 * The files of an image archive or layout, whichever form it comes in: a
 * directory (an OCI image layout), or a tar file (oci-archive or
 * docker-archive, optionally gzip-compressed). Files are streamed from where
 * they lie; only headers are read up front.
 */
import { constants as fsConstants, createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLayerGunzip } from '../../layer/index.js';
import { isErrno } from '../../files/errno.js';
import { ArchiveError } from './errors.js';
import { indexTarFile, normalizeArchivePath, type TarIndexEntry } from './tar-index.js';

/** A blob is read in pieces of this size: Node's default 64 KiB makes a thread-pool round trip, a hash update and a write per 64 KiB. */
const BLOB_READ_BYTES = 1024 * 1024;

/** Manifests, configs and indexes are small; refuse to read a layer as JSON by mistake. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;
const MAX_LINK_HOPS = 16;

export interface ArchiveFiles {
  /** The archive or directory, for messages. */
  readonly name: string;
  readonly kind: 'directory' | 'tar';
  has(file: string): Promise<boolean>;
  /** Streams a file's bytes; ArchiveError if it is not there. */
  open(file: string): Promise<NodeJS.ReadableStream>;
  /** Removes what reading needed (a decompressed copy). */
  close(): Promise<void>;
}

export async function readArchiveJSON<T>(files: ArchiveFiles, file: string): Promise<{ value: T; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of await files.open(file)) {
    length += (chunk as Buffer).length;
    if (length > MAX_JSON_BYTES) throw new ArchiveError(`${files.name}: ${file} is larger than ${MAX_JSON_BYTES} bytes, too large to be a manifest or config; the archive is not an image archive.`);
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as T, bytes };
  } catch (error) {
    throw new ArchiveError(`${files.name}: ${file} is not valid JSON (${(error as Error).message}); the archive is damaged.`);
  }
}

class DirectoryFiles implements ArchiveFiles {
  readonly kind = 'directory';
  constructor(readonly name: string) {}

  private resolve(file: string): string {
    const relative = normalizeArchivePath(file);
    if (relative.startsWith('..')) throw new ArchiveError(`${this.name}: the path "${file}" points outside the layout directory.`);
    return path.join(this.name, relative);
  }

  async has(file: string): Promise<boolean> {
    return (await fs.stat(this.resolve(file)).catch(() => undefined))?.isFile() ?? false;
  }

  async open(file: string): Promise<NodeJS.ReadableStream> {
    const full = this.resolve(file);
    // O_NONBLOCK: a FIFO in the layout must not block the open; only a regular file is read.
    const handle = await fs.open(full, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY).catch((error: unknown) => {
      if (isErrno(error, 'ENOENT')) throw new ArchiveError(`${this.name} has no ${file}, which the image refers to; the layout is incomplete. Copy it again (e.g. skopeo copy).`);
      throw error;
    });
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new ArchiveError(`${this.name}: ${file} is not a regular file (a FIFO, device or directory); a layout holds its blobs as plain files. Copy it again (e.g. skopeo copy).`);
    }
    return handle.createReadStream({ highWaterMark: BLOB_READ_BYTES });
  }

  async close(): Promise<void> {}
}

class TarFiles implements ArchiveFiles {
  readonly kind = 'tar';
  constructor(
    readonly name: string,
    private readonly tarPath: string,
    private readonly entries: Map<string, TarIndexEntry>,
    private readonly cleanup: () => Promise<void>,
  ) {}

  private find(file: string): TarIndexEntry | undefined {
    let key = normalizeArchivePath(file);
    for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
      const entry = this.entries.get(key);
      if (!entry || entry.type === 'file') return entry;
      if (entry.type === 'hardlink' && entry.linkTarget) key = normalizeArchivePath(entry.linkTarget);
      else if (entry.type === 'symlink' && entry.linkTarget) key = normalizeArchivePath(path.posix.join(path.posix.dirname(key), entry.linkTarget));
      else return undefined;
    }
    return undefined;
  }

  async has(file: string): Promise<boolean> {
    return this.find(file) !== undefined;
  }

  async open(file: string): Promise<NodeJS.ReadableStream> {
    const entry = this.find(file);
    if (!entry) throw new ArchiveError(`${this.name} has no ${file}, which the image refers to; the archive is incomplete. Save or copy it again.`);
    if (entry.size === 0) return Readable.from([]);
    return createReadStream(this.tarPath, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: BLOB_READ_BYTES });
  }

  close(): Promise<void> {
    return this.cleanup();
  }
}

async function magicBytes(file: string): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Opens an image archive or layout directory. A gzip-compressed archive is
 * first decompressed into `scratchFile()` (random access needs it plain).
 */
export async function openArchiveFiles(input: string, scratchFile: () => Promise<string>): Promise<ArchiveFiles> {
  const info = await fs.stat(input).catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) throw new ArchiveError(`${input} does not exist. Give an image archive (from ribo save, docker save, podman save, skopeo copy … oci-archive:FILE) or an OCI layout directory.`);
    if (isErrno(error, 'EACCES')) throw new ArchiveError(`${input} cannot be read (permission denied); make it readable by your user.`);
    throw error;
  });
  if (info.isDirectory()) return new DirectoryFiles(input);
  if (!info.isFile()) throw new ArchiveError(`${input} is neither a file nor a directory; give an image archive or an OCI layout directory.`);
  const magic = await magicBytes(input);
  let tarPath = input;
  let cleanup = async () => {};
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    tarPath = await scratchFile();
    cleanup = () => fs.rm(tarPath, { force: true });
    try {
      await pipeline(createReadStream(input), createLayerGunzip(), createWriteStream(tarPath));
    } catch (error) {
      await cleanup();
      throw new ArchiveError(`${input} is gzip-compressed but its data is damaged or cut short (${(error as Error).message}). Write or copy the archive again.`, { cause: error });
    }
  } else if (magic.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
    throw new ArchiveError(`${input} is zstd-compressed; decompress it first (zstd -d ${input}) and load the .tar.`);
  }
  try {
    return new TarFiles(input, tarPath, await indexTarFile(tarPath), cleanup);
  } catch (error) {
    await cleanup();
    if (error instanceof ArchiveError && tarPath !== input) throw new ArchiveError(error.message.replaceAll(tarPath, input), { cause: error });
    throw error;
  }
}
