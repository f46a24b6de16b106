/**
 * Turns an overlay upper directory into the sequence of OCI layer entries.
 *
 * Upper dirs from kernel overlay (userxattr or trusted) and fuse-overlayfs encode
 * deletions as 0/0 character devices (possibly hard-linked to one shared inode),
 * `.wh.NAME` files (fuse-overlayfs) or xwhiteout files, and opaque directories as an
 * xattr or a `.wh..wh..opq` file. All of them come out as the OCI `.wh.` entries.
 *
 * Order: depth first, siblings sorted by the bytes of their archive name, a
 * directory before its contents and its opaque marker right after the directory.
 * The walk uses synchronous fs calls: they cost a few microseconds where the async
 * versions cost a thread-pool round trip each (see docs/layer-format.md).
 */
import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { SourceChangedError, UnsupportedUpperDirError } from './errors.js';
import { splitDevice } from '../files/device-numbers.js';
import type { TarWriterEntry } from './tar-writer.js';
import {
  isIncompleteCopyXattr,
  isLayerXattr,
  isXwhiteoutXattr,
  OPAQUE_XATTRS,
  readXattrTree,
  type Xattrs,
} from './xattrs.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

const READ_CHUNK = 1024 * 1024;

export interface UpperDirOptions {
  /** Clamp every mtime to at most this many seconds since the epoch. */
  sourceDateEpoch?: number;
}

function decodeName(raw: Buffer, dir: string): string {
  const name = raw.toString('utf8');
  if (!Buffer.from(name, 'utf8').equals(raw)) {
    throw new UnsupportedUpperDirError(join(dir, name), 'the file name is not valid UTF-8, which OCI layers require');
  }
  return name;
}

function isWhiteoutDevice(stats: Stats): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0;
}

function* readFileChunks(absolutePath: string, size: number, entryPath: string): Generator<Buffer> {
  const fd = openSync(absolutePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let remaining = size;
    while (remaining > 0) {
      const buffer = Buffer.allocUnsafe(Math.min(remaining, READ_CHUNK));
      const read = readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) throw new SourceChangedError(entryPath);
      remaining -= read;
      yield read === buffer.length ? buffer : buffer.subarray(0, read);
    }
    if (readSync(fd, Buffer.alloc(1), 0, 1, null) !== 0) throw new SourceChangedError(entryPath);
  } finally {
    closeSync(fd);
  }
}

function markerEntry(path: string): TarWriterEntry {
  // Markers are not files: fixed metadata keeps layers reproducible.
  return { path, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0 };
}

interface Child {
  /** Name inside the archive (a whiteout's is `.wh.NAME`). */
  archiveName: string;
  name: string;
  stats: Stats | null;
}

class UpperDirWalker {
  private readonly hardlinks = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly xattrs: Map<string, Xattrs>,
    private readonly options: UpperDirOptions,
  ) {}

  private mtime(stats: Stats): number {
    const seconds = Math.floor(stats.mtimeMs / 1000);
    const limit = this.options.sourceDateEpoch;
    return limit !== undefined && seconds > limit ? limit : seconds;
  }

  private portableXattrs(relative: string): Map<string, Buffer> | undefined {
    const all = this.xattrs.get(relative);
    if (!all) return undefined;
    const kept = new Map([...all].filter(([name]) => isLayerXattr(name)));
    return kept.size > 0 ? kept : undefined;
  }

  private isOpaque(relative: string): boolean {
    const all = this.xattrs.get(relative);
    return !!all && OPAQUE_XATTRS.some((name) => all.get(name)?.toString('latin1') === 'y');
  }

  private checkComplete(relative: string): void {
    const all = this.xattrs.get(relative);
    if (!all) return;
    for (const name of all.keys()) {
      if (isIncompleteCopyXattr(name)) {
        throw new UnsupportedUpperDirError(relative, `it carries ${name}; mount overlay without redirect_dir and metacopy (userxattr does this) so the upper dir holds complete files`);
      }
    }
  }

  private isXwhiteout(relative: string, stats: Stats): boolean {
    if (!stats.isFile()) return false;
    const all = this.xattrs.get(relative);
    return !!all && [...all.keys()].some(isXwhiteoutXattr);
  }

  *walkDirectory(relativeDir: string): Generator<TarWriterEntry> {
    const absoluteDir = relativeDir === '' ? this.root : join(this.root, relativeDir);
    const prefix = relativeDir === '' ? '' : `${relativeDir}/`;
    const children: Child[] = [];
    let opaque = this.isOpaque(relativeDir);

    for (const raw of readdirSync(absoluteDir, { encoding: 'buffer' })) {
      const name = decodeName(raw, absoluteDir);
      const stats = lstatSync(join(absoluteDir, name));
      const relative = prefix + name;
      if (name === OPAQUE_MARKER) {
        if (!stats.isFile()) throw new UnsupportedUpperDirError(relative, 'an opaque marker that is not a regular file');
        opaque = true;
      } else if (name.startsWith(WHITEOUT_PREFIX)) {
        // fuse-overlayfs writes a `.wh.NAME` file when it cannot create a device. It also
        // whites out the reserved name `.wh..opq` next to opaque markers: nothing to carry.
        if (isWhiteoutDevice(stats)) continue;
        if (!stats.isFile()) throw new UnsupportedUpperDirError(relative, 'names starting with ".wh." are reserved for whiteouts');
        children.push({ archiveName: name, name, stats: null });
      } else if (isWhiteoutDevice(stats) || this.isXwhiteout(relative, stats)) {
        children.push({ archiveName: WHITEOUT_PREFIX + name, name, stats: null });
      } else if (stats.isSocket()) {
        continue; // sockets cannot be archived; they are recreated by whoever listens
      } else {
        children.push({ archiveName: name, name, stats });
      }
    }

    children.sort((a, b) => Buffer.compare(Buffer.from(a.archiveName, 'utf8'), Buffer.from(b.archiveName, 'utf8')));
    if (opaque) yield markerEntry(prefix + OPAQUE_MARKER);

    for (const child of children) {
      if (!child.stats) {
        yield markerEntry(prefix + child.archiveName);
        continue;
      }
      const relative = prefix + child.name;
      yield this.entryFor(relative, child.stats);
      if (child.stats.isDirectory()) yield* this.walkDirectory(relative);
    }
  }

  private entryFor(relative: string, stats: Stats): TarWriterEntry {
    this.checkComplete(relative);
    const base = {
      mode: stats.mode & 0o7777,
      uid: stats.uid,
      gid: stats.gid,
      mtime: this.mtime(stats),
      size: 0,
    };
    if (stats.isDirectory()) return { ...base, path: `${relative}/`, type: 'directory', xattrs: this.portableXattrs(relative) };
    if (stats.isSymbolicLink()) {
      const target = readlinkSync(join(this.root, relative), { encoding: 'buffer' });
      return { ...base, path: relative, type: 'symlink', linkTarget: decodeName(target, relative) };
    }
    if (stats.nlink > 1) {
      const key = `${stats.dev}:${stats.ino}`;
      const first = this.hardlinks.get(key);
      if (first !== undefined) return { ...base, path: relative, type: 'hardlink', linkTarget: first };
      this.hardlinks.set(key, relative);
    }
    const xattrs = this.portableXattrs(relative);
    if (stats.isFile()) {
      const absolute = join(this.root, relative);
      const size = stats.size;
      return { ...base, path: relative, type: 'file', size, xattrs, content: () => readFileChunks(absolute, size, relative) };
    }
    if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      const { major, minor } = splitDevice(stats.rdev);
      const type = stats.isCharacterDevice() ? 'char-device' : 'block-device';
      return { ...base, path: relative, type, devMajor: major, devMinor: minor, xattrs };
    }
    if (stats.isFIFO()) return { ...base, path: relative, type: 'fifo', xattrs };
    throw new UnsupportedUpperDirError(relative, 'unknown file type');
  }
}

/** All layer entries of an upper dir, in archive order. Xattrs are read up front with one getfattr run. */
export async function* upperDirEntries(upperDir: string, options: UpperDirOptions = {}): AsyncGenerator<TarWriterEntry> {
  const root = resolve(upperDir);
  if (!lstatSync(root).isDirectory()) throw new UnsupportedUpperDirError(root, 'not a directory');
  const keep = (name: string): boolean =>
    isLayerXattr(name) || OPAQUE_XATTRS.includes(name) || isIncompleteCopyXattr(name) || isXwhiteoutXattr(name);
  const xattrs = await readXattrTree(root, keep);
  yield* givingWay(new UpperDirWalker(root, xattrs, options).walkDirectory(''));
}

/** How long the walk's synchronous calls may hold the event loop before it lets other work in. */
const SLICE_MS = 5;

/**
 * The walk reads with synchronous calls, and a consumer that hashes what it
 * gets resumes it through promise jobs only: a walk over a big tree would
 * hold the event loop for its whole length. A build commits layers in the
 * background while its next steps run, which wait for their processes'
 * events on this same loop, so the walk gives way every few milliseconds.
 */
async function* givingWay<T>(items: Iterable<T>): AsyncGenerator<T> {
  let sliceStart = performance.now();
  for (const item of items) {
    yield item;
    if (performance.now() - sliceStart >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}
