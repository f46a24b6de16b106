import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { readTar, type TarEntry } from '../../src/layer/index.js';

/** Temp dirs created by a test file; call cleanup() in afterAll/afterEach. */
export class TempDirs {
  private readonly dirs: string[] = [];
  make(label = 'layer'): string {
    const dir = mkdtempSync(join(tmpdir(), `ribo-${label}-`));
    this.dirs.push(dir);
    return dir;
  }
  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command (no shell) and returns stdout. */
export function run(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a shell snippet inside `cwd`. */
export function sh(cwd: string, script: string): string {
  return execFileSync('sh', ['-ec', script], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A Writable that keeps everything written to it. */
export class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk);
    callback();
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function streamOf(data: Buffer, chunkSize = 7919): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  return Readable.from(chunks, { objectMode: false });
}

export interface ListedEntry extends Omit<TarEntry, 'content'> {
  data: Buffer;
}

/** Every entry of a (gzip or plain) tar with its content, read with ribo's reader. */
export async function listTar(archive: Buffer): Promise<ListedEntry[]> {
  const plain = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const entries: ListedEntry[] = [];
  for await (const entry of readTar(streamOf(plain))) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.content) parts.push(chunk);
    const { content: _content, ...header } = entry;
    entries.push({ ...header, data: Buffer.concat(parts) });
  }
  return entries;
}

/** GNU tar's verbose listing of an archive file, one line per entry (an independent reader). */
export function gnuTarListing(archivePath: string): string[] {
  return run('tar', '--xattrs', '--numeric-owner', '-tvvf', archivePath).split('\n').filter(Boolean);
}

/**
 * A comparable description of a tree: type, mode, owner, size, content hash, link
 * target, device numbers, mtime (seconds; directories too) and user/capability xattrs.
 */
export function describeTree(root: string, options: { mtimes?: boolean } = {}): string[] {
  const lines: string[] = [];
  const xattrs = new Map<string, string>();
  const dump = execFileSync('getfattr', ['-R', '-h', '-d', '-m', '^(user\\.|security\\.capability)', '-e', 'hex', '--absolute-names', root], {
    encoding: 'utf8',
  });
  let current = '';
  for (const line of dump.split('\n')) {
    if (line.startsWith('# file: ')) current = line.slice(8);
    else if (line.includes('=')) xattrs.set(current, `${xattrs.get(current) ?? ''} ${line}`);
  }
  const visit = (relative: string): void => {
    const absolute = relative ? join(root, relative) : root;
    for (const name of readdirSync(absolute).sort()) {
      const path = relative ? `${relative}/${name}` : name;
      const full = join(root, path);
      const stats = lstatSync(full);
      const type = stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : stats.isFile() ? 'f' : stats.isCharacterDevice() ? 'c' : stats.isBlockDevice() ? 'b' : stats.isFIFO() ? 'p' : '?';
      let detail = '';
      if (type === 'f') detail = `${stats.size} ${createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16)} nlink=${stats.nlink}`;
      if (type === 'l') detail = `-> ${readlinkSync(full)}`;
      if (type === 'c' || type === 'b') detail = `rdev=${stats.rdev}`;
      const mtime = options.mtimes === false || type === 'l' ? '' : ` mtime=${Math.floor(stats.mtimeMs / 1000)}`;
      const mode = type === 'l' ? '' : ` mode=${(stats.mode & 0o7777).toString(8)}`;
      lines.push(`${path} ${type}${mode} ${stats.uid}:${stats.gid}${mtime} ${detail}${xattrs.get(full) ?? ''}`.trimEnd());
      if (type === 'd') visit(path);
    }
  };
  visit('');
  return lines;
}

/** Entry names in archive order. */
export function names(entries: ListedEntry[]): string[] {
  return entries.map((entry) => entry.path);
}

import { tarChunks, type TarWriterEntry } from '../../src/layer/index.js';

export type EntrySpec = Partial<TarWriterEntry> & { path: string; type: TarWriterEntry['type']; text?: string };

/** Builds a tar archive from entry specs (the writer does not judge paths, so it can craft hostile archives). */
export async function tarOf(specs: EntrySpec[]): Promise<Buffer> {
  const entries: TarWriterEntry[] = specs.map(({ text, ...spec }) => {
    const data = Buffer.from(text ?? '');
    return {
      mode: spec.type === 'directory' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: 1600000000,
      ...spec,
      size: spec.type === 'file' ? data.length : 0,
      content: () => [data],
    };
  });
  const parts: Buffer[] = [];
  for await (const chunk of tarChunks(entries)) parts.push(chunk);
  return Buffer.concat(parts);
}
