/**
 * What ADD does beyond COPY: fetching http(s) URLs (with --checksum) and
 * unpacking local tar archives (plain, gzip, bzip2, xz, zstd) at the destination.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, rm, utimes } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { RiboError } from '../errors.js';
import { createLayerGunzip, unpackArchive } from '../layer/index.js';
import { TlsTrust } from '../registry/tls-trust.js';
import { applyTimeouts, NetworkTimeoutError, networkTimeouts, TIMEOUT_VARIABLES, type NetworkTimeouts } from '../registry/timeouts.js';
import type { DownloadCache, KeptDownload } from './cache/download-cache.js';

export class AddSourceError extends RiboError {}

const MAX_REDIRECTS = 10;
const FIRST_BACKOFF_MS = 300;

export function isUrlSource(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Git sources as BuildKit recognises them in ADD. */
export function isGitSource(source: string): boolean {
  return /^git@|^git:\/\//i.test(source) || /^(https?|ssh):\/\/.*\.git(#.*)?$/i.test(source);
}

export interface Download {
  /** The directory holding the downloaded file, and its name there. */
  dir: string;
  name: string;
  /** sha256 of the content. */
  digest: string;
  /** From Last-Modified, when the server sent one. */
  modified?: Date;
}

function get(url: URL, trust: TlsTrust, limits: NetworkTimeouts, conditions: Record<string, string>): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const tls = url.protocol === 'https:' ? { secureContext: trust.secureContext() } : {};
    const request = client.get(url, { headers: { 'user-agent': 'ribo', ...conditions }, ...tls }, resolve);
    applyTimeouts(request, limits);
    request.on('error', reject);
  });
}

const TRANSIENT = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN']);

/** GET of `url` until it answers, up to the attempts limit for connections that break or time out; the error names the URL and the limits. */
async function getWithRetry(source: string, url: URL, trust: TlsTrust, limits: NetworkTimeouts, conditions: Record<string, string> = {}): Promise<http.IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AddSourceError(`ADD ${source}: the server redirected to ${url.href}, which is not an http(s) URL; ribo downloads from http and https only.`);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await get(url, trust, limits, conditions);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (TRANSIENT.has(code) && attempt < limits.attempts) {
        await sleep(FIRST_BACKOFF_MS * 2 ** (attempt - 1));
        continue;
      }
      const where = url.href === source ? '' : ` from ${url.href}`;
      const tries = attempt > 1 ? `, tried ${attempt} times` : '';
      const hint = error instanceof NetworkTimeoutError
        ? `Check the URL and that the server is up; ${TIMEOUT_VARIABLES.connect} and ${TIMEOUT_VARIABLES.idle} set the limits in seconds.`
        : 'Check the URL and the network; for an https server with a private CA, point NODE_EXTRA_CA_CERTS at the CA\'s PEM file.';
      throw new AddSourceError(`ADD ${source}: the download${where} failed (${(error as Error).message}${tries}). ${hint}`, { cause: error });
    }
  }
}

/** Content-Disposition's filename, else the URL's last path segment, else "index" (as BuildKit). */
function fileNameFor(url: URL, response: http.IncomingMessage): string {
  const disposition = response.headers['content-disposition'];
  const match = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition) : null;
  const fromHeader = match ? path.posix.basename(decodeURIComponent(match[1]!)) : '';
  if (fromHeader && fromHeader !== '.' && fromHeader !== '..') return fromHeader;
  const fromPath = path.posix.basename(decodeURIComponent(url.pathname));
  return fromPath && fromPath !== '/' && fromPath !== '.' && fromPath !== '..' ? fromPath : 'index';
}

/**
 * Downloads `source` into a new directory under `dir`, streamed to disk and
 * hashed on the way. The file gets mode 0600 and the Last-Modified time, as
 * Docker gives it (else `fallbackTime`); a --checksum that does not match fails with nothing kept.
 * A CA for a private https server is added with NODE_EXTRA_CA_CERTS.
 * With `cache`, the last download of the URL is asked about rather than
 * fetched again (If-None-Match / If-Modified-Since); a 304 uses it.
 */
export async function downloadUrl(source: string, dir: string, checksum: string | undefined, fallbackTime: Date, cache?: DownloadCache): Promise<Download> {
  const kept = await cache?.get(source);
  if (kept && checksum && kept.meta.digest === checksum) {
    const restored = await restoreKept(kept, dir, fallbackTime);
    if (restored) return restored;
  }
  const conditions: Record<string, string> = {};
  if (kept?.meta.etag) conditions['if-none-match'] = kept.meta.etag;
  if (kept?.meta.lastModified) conditions['if-modified-since'] = kept.meta.lastModified;
  let url = new URL(source);
  const trust = new TlsTrust();
  const limits = networkTimeouts();
  let response = await getWithRetry(source, url, trust, limits, conditions);
  for (let hops = 0; response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && response.statusCode !== 304 && response.headers.location; hops++) {
    response.resume();
    if (hops >= MAX_REDIRECTS) throw new AddSourceError(`ADD ${source}: more than ${MAX_REDIRECTS} redirects.`);
    url = new URL(response.headers.location, url);
    response = await getWithRetry(source, url, trust, limits, conditions);
  }
  if (response.statusCode === 304 && kept) {
    response.resume();
    const restored = await restoreKept(kept, dir, fallbackTime);
    if (restored && (!checksum || checksum === restored.digest)) return restored;
    // The kept copy is damaged (or not what --checksum wants): forget it, fetch the file whole and keep that.
    await cache!.forget(source);
    return downloadUrl(source, dir, checksum, fallbackTime, cache);
  }
  if (response.statusCode !== 200) {
    response.resume();
    throw new AddSourceError(`ADD ${source}: the server answered ${response.statusCode} ${response.statusMessage ?? ''}; check the URL.`);
  }
  const name = fileNameFor(url, response);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  response.on('data', (chunk: Buffer) => hash.update(chunk));
  try {
    await pipeline(response, createWriteStream(file, { mode: 0o600 }));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const hint = error instanceof NetworkTimeoutError ? ` ${TIMEOUT_VARIABLES.idle} sets that limit in seconds.` : '';
    throw new AddSourceError(`ADD ${source}: the download broke off (${(error as Error).message}); try again.${hint}`, { cause: error });
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (checksum && checksum !== digest) {
    await rm(dir, { recursive: true, force: true });
    throw new AddSourceError(`ADD --checksum=${checksum} ${source}: the downloaded content has digest ${digest}. The file changed on the server or the checksum is wrong; nothing was added.`);
  }
  await chmod(file, 0o600);
  const lastModified = response.headers['last-modified'];
  const parsed = lastModified ? new Date(lastModified) : undefined;
  const modified = parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined;
  // Without Last-Modified the build's own timestamp keeps the result reproducible.
  await utimes(file, modified ?? fallbackTime, modified ?? fallbackTime);
  const etag = typeof response.headers.etag === 'string' ? response.headers.etag : undefined;
  if (cache && (etag || lastModified || checksum)) {
    await cache.keep(source, { digest, name, modified: modified?.toISOString(), etag, lastModified }, file);
  }
  return { dir, name, digest, modified };
}

/** The kept download copied into `dir` as a fresh download would be; undefined when its bytes no longer match its digest. */
async function restoreKept(kept: { meta: KeptDownload; file: string }, dir: string, fallbackTime: Date): Promise<Download | undefined> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, kept.meta.name);
  const hash = createHash('sha256');
  try {
    const source = createReadStream(kept.file);
    source.on('data', (chunk) => hash.update(chunk));
    await pipeline(source, createWriteStream(file, { mode: 0o600 }));
  } catch {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  if (`sha256:${hash.digest('hex')}` !== kept.meta.digest) {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  await chmod(file, 0o600);
  const modified = kept.meta.modified ? new Date(kept.meta.modified) : undefined;
  await utimes(file, modified ?? fallbackTime, modified ?? fallbackTime);
  return { dir, name: kept.meta.name, digest: kept.meta.digest, modified };
}

type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const MAGIC: Array<[ArchiveKind, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

const DECOMPRESSORS: Record<'bzip2' | 'xz' | 'zstd', string> = { bzip2: 'bzip2', xz: 'xz', zstd: 'zstd' };

/** A tar header block: a checksum that matches its bytes (with the checksum field as spaces). */
function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  const stored = Number.parseInt(block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  if (Number.isNaN(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === stored;
}

/** The decompressed bytes of `file` as a stream (bzip2, xz and zstd through their tools). */
function decompressed(file: string, kind: ArchiveKind): NodeJS.ReadableStream {
  if (kind === 'tar') return createReadStream(file);
  if (kind === 'gzip') return createReadStream(file).pipe(createLayerGunzip());
  const child = spawn(DECOMPRESSORS[kind], ['-dc', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', (error) => child.stdout.destroy(new AddSourceError(`Unpacking ${path.basename(file)} needs the ${DECOMPRESSORS[kind]} program (${error.message}); install it.`)));
  return child.stdout;
}

async function firstBytes(stream: NodeJS.ReadableStream, count: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= count) break;
    }
  } catch {
    // not decompressible: not an archive
  } finally {
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
  return Buffer.concat(chunks).subarray(0, count);
}

/** What kind of tar archive `file` is, told by its content as Docker does; undefined when none. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(512);
  let read: number;
  try {
    ({ bytesRead: read } = await handle.read(head, 0, 512, 0));
  } finally {
    await handle.close();
  }
  const kind = MAGIC.find(([, magic]) => read >= magic.length && magic.every((b, i) => head[i] === b))?.[0];
  if (!kind) return isTarHeader(head.subarray(0, read)) ? 'tar' : undefined;
  return isTarHeader(await firstBytes(decompressed(file, kind), 512)) ? kind : undefined;
}

/**
 * Unpacks a tar archive into the container directory `dest` of `rootfs`, merged
 * with what is there, as Docker's untar does: entries are files, never whiteouts,
 * and symlinks on their way (in the image or the archive) resolve inside `rootfs`.
 */
export async function extractArchive(file: string, kind: ArchiveKind, rootfs: string, dest: string): Promise<void> {
  // unpackArchive reads plain, gzip and zstd tars itself; bzip2 and xz are undone first.
  const input = kind === 'bzip2' || kind === 'xz' ? decompressed(file, kind) : createReadStream(file);
  await unpackArchive(input, rootfs, dest);
}
