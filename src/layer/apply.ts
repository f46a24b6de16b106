/**
 * Unpacks a layer tar into a directory.
 *
 * 'lower' mode builds an overlay lower dir from an empty directory: `.wh.NAME`
 * becomes a 0/0 character device NAME and `.wh..wh..opq` the xattr
 * user.overlay.opaque=y on its directory, which kernel overlay (userxattr) and
 * fuse-overlayfs both honour. 'merge' mode applies the layer onto an existing tree:
 * whiteouts delete, and an opaque marker removes everything in its directory that
 * this layer did not write.
 *
 * 'archive' mode unpacks a plain tar archive (ADD of a local archive) into a
 * container root, as Docker's untar does: no whiteouts (a `.wh.` name is a plain
 * file), entry paths are cleaned (a leading `/` is dropped, an entry that names the
 * unpack directory itself is skipped), and symlinks on an entry's path are followed
 * the way the container sees them: absolute ones restart at the root, `..` stops at it.
 *
 * Safety: paths are checked component by component. In layer modes, writing through
 * a symlink is only allowed when the link is relative and stays inside the root; in
 * archive mode every link is resolved inside the root. Hardlink targets must be
 * inside the root too. Everything else raises UnsafePathError before any file is
 * touched for that entry.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lchownSync,
  chmodSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { EntryConflictError, UnmappedOwnerError, UnsafePathError } from './errors.js';
import { archivePathParts } from './paths.js';
import { makeDeviceIfPermitted, makeFifo, WhiteoutMaker } from './special-files.js';
import type { TarEntry } from './tar-reader.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './upper-dir.js';
import { isLayerXattr, LOWER_OPAQUE_XATTR, writeXattrs, type XattrAssignment } from './xattrs.js';

/**
 * Gives an unpacked entry its owner; an id the user namespace does not map
 * (EINVAL: beyond the subordinate range of /etc/subuid or /etc/subgid) is an
 * error naming the entry and the fix, as podman's.
 */
function ownedAs(entry: TarEntry, chown: () => void): void {
  try {
    chown();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    throw new UnmappedOwnerError(entry.path, entry.uid, entry.gid, mappedIds());
  }
}

/** How many uids and gids this process's user namespace maps (from 0 up), read from /proc. */
function mappedIds(): { uids: number; gids: number } {
  const count = (file: string) => {
    try {
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      return Math.max(0, ...lines.map((line) => line.trim().split(/\s+/).map(Number)).map(([inside, , length]) => (inside ?? 0) + (length ?? 0)));
    } catch {
      return 0;
    }
  };
  return { uids: count('/proc/self/uid_map'), gids: count('/proc/self/gid_map') };
}

export type ApplyMode = 'lower' | 'merge' | 'archive';

/** Symlinks followed while resolving one path, as Linux's MAXSYMLINKS. */
const MAX_SYMLINK_HOPS = 40;

/** What this unpack knows about one path (by its real location, symlinks resolved). */
interface PathNode {
  children: Map<string, PathNode> | null;
  /** Written by an entry of this layer. */
  written: boolean;
  /** Verified (or created) as a real directory during this unpack. */
  realDir: boolean;
  /** Lower mode: mark this directory opaque for overlay. */
  opaque: boolean;
  /** Directory mtimes are set last, after their contents stop changing. */
  pendingMtime?: number;
  pendingXattrs?: Map<string, Buffer>;
}

function newNode(): PathNode {
  return { children: null, written: false, realDir: false, opaque: false };
}

function hasWritten(node: PathNode): boolean {
  if (node.written) return true;
  if (!node.children) return false;
  for (const child of node.children.values()) if (hasWritten(child)) return true;
  return false;
}

function writeAll(fd: number, chunk: Buffer): void {
  let offset = 0;
  while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
}

export class LayerApplier {
  private readonly root: string;
  private readonly tree: PathNode = { children: null, written: false, realDir: true, opaque: false };
  private readonly whiteouts: WhiteoutMaker;

  /**
   * `base`: archive mode only, the directory inside `targetDir` (a container path,
   * symlinks resolved inside `targetDir`) that entry paths are relative to.
   */
  constructor(targetDir: string, private readonly mode: ApplyMode, private readonly base: readonly string[] = []) {
    this.root = resolve(targetDir);
    if (!lstatSync(this.root).isDirectory()) throw new EntryConflictError(this.root, 'the target is not a directory');
    this.whiteouts = new WhiteoutMaker(this.root);
  }

  private absolute(parts: readonly string[]): string {
    return parts.length === 0 ? this.root : join(this.root, ...parts);
  }

  private nodeAt(parts: readonly string[], create: boolean): PathNode | undefined {
    let node = this.tree;
    for (const part of parts) {
      let child = node.children?.get(part);
      if (!child) {
        if (!create) return undefined;
        child = newNode();
        (node.children ??= new Map()).set(part, child);
      }
      node = child;
    }
    return node;
  }

  /** Replaces whatever node is at `parts` with a fresh one. */
  private freshNode(parts: readonly string[]): PathNode {
    const parent = this.nodeAt(parts.slice(0, -1), true)!;
    const node = newNode();
    (parent.children ??= new Map()).set(parts[parts.length - 1]!, node);
    return node;
  }

  private forget(parts: readonly string[]): void {
    this.nodeAt(parts.slice(0, -1), false)?.children?.delete(parts[parts.length - 1]!);
  }

  private remove(parts: readonly string[]): void {
    rmSync(this.absolute(parts), { recursive: true, force: true });
    this.forget(parts);
  }

  /**
   * Resolves a directory path to its real location inside the root, following only
   * relative symlinks that stay inside. Missing directories are created when `create`.
   */
  private resolveDirectory(parts: readonly string[], entryPath: string, create: boolean): string[] {
    const real: string[] = [];
    let node = this.tree;
    let pending = [...parts];
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        // A container sees `..` of its root as the root itself.
        if (real.length === 0 && this.mode === 'archive') continue;
        if (real.length === 0) throw new UnsafePathError(entryPath, 'a symlink on its path leads out of the root');
        real.pop();
        node = this.nodeAt(real, true)!;
        continue;
      }
      const known = node.children?.get(name);
      if (known?.realDir) {
        real.push(name);
        node = known;
        continue;
      }
      const absolute = join(this.absolute(real), name);
      const stats = lstatSync(absolute, { throwIfNoEntry: false });
      if (!stats) {
        if (!create) throw new EntryConflictError(entryPath, `"${[...real, name].join('/')}" does not exist`);
        mkdirSync(absolute, 0o755);
      } else if (stats.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new UnsafePathError(entryPath, 'too many levels of symlinks on its path');
        const target = readlinkSync(absolute);
        if (target.startsWith('/') && this.mode === 'archive') {
          real.length = 0;
          node = this.tree;
        } else if (target.startsWith('/')) {
          throw new UnsafePathError(entryPath, `"${[...real, name].join('/')}" is a symlink to the absolute path "${target}", and ribo never writes through absolute symlinks`);
        }
        pending = [...target.split('/'), ...pending];
        continue;
      } else if (!stats.isDirectory()) {
        throw new EntryConflictError(entryPath, `"${[...real, name].join('/')}" is not a directory`);
      }
      const child = node.children?.get(name) ?? newNode();
      (node.children ??= new Map()).set(name, child);
      child.realDir = true;
      real.push(name);
      node = child;
    }
    return real;
  }

  /** An entry's path as components below the root; archive mode cleans it as Docker's untar does. */
  private entryParts(entryPath: string, shownAs?: string): string[] {
    if (this.mode !== 'archive') return archivePathParts(entryPath, shownAs);
    const parts = archivePathParts(cleanArchivePath(entryPath, shownAs ?? entryPath), shownAs);
    return parts.length === 0 ? [] : [...this.base, ...parts];
  }

  async apply(entry: TarEntry): Promise<void> {
    const parts = this.entryParts(entry.path);
    if (parts.length === 0) {
      // Docker's untar leaves the directory it unpacks into as it is.
      if (entry.type === 'directory' && this.mode !== 'archive') this.applyDirectoryMetadata([], entry);
      return;
    }
    const name = parts[parts.length - 1]!;
    const parent = this.resolveDirectory(parts.slice(0, -1), entry.path, true);
    if (this.mode !== 'archive') {
      if (name === OPAQUE_MARKER) return this.applyOpaque(parent);
      if (name.startsWith(WHITEOUT_PREFIX)) return this.applyWhiteout(parent, name.slice(WHITEOUT_PREFIX.length), entry.path);
    }

    const target = [...parent, name];
    const absolute = this.absolute(target);
    const existing = lstatSync(absolute, { throwIfNoEntry: false });

    if (entry.type === 'directory') {
      if (existing && !existing.isDirectory()) this.remove(target);
      if (!existing || !existing.isDirectory()) mkdirSync(absolute, 0o700);
      this.applyDirectoryMetadata(target, entry);
      return;
    }

    if (entry.type === 'hardlink') return this.applyHardlink(target, entry, existing !== undefined);
    if (existing) this.remove(target);
    const node = this.freshNode(target);
    node.written = true;
    const xattrs = this.layerXattrs(entry);

    switch (entry.type) {
      case 'file': {
        const fd = openSyncExclusive(absolute);
        try {
          for await (const chunk of entry.content) writeAll(fd, chunk);
          ownedAs(entry, () => fchownSync(fd, entry.uid, entry.gid));
          fchmodSync(fd, entry.mode);
          futimesSync(fd, entry.mtime, entry.mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        if (!entry.linkTarget) throw new EntryConflictError(entry.path, 'the symlink has an empty target');
        symlinkSync(entry.linkTarget, absolute);
        ownedAs(entry, () => lchownSync(absolute, entry.uid, entry.gid));
        lutimesSync(absolute, entry.mtime, entry.mtime);
        return; // symlinks cannot carry the xattrs ribo keeps
      }
      case 'char-device':
      case 'block-device':
      case 'fifo': {
        if (entry.type === 'fifo') await makeFifo(absolute);
        else if (!(await makeDeviceIfPermitted(absolute, entry.type === 'char-device' ? 'c' : 'b', entry.devMajor ?? 0, entry.devMinor ?? 0))) return;
        ownedAs(entry, () => lchownSync(absolute, entry.uid, entry.gid));
        chmodSync(absolute, entry.mode);
        lutimesSync(absolute, entry.mtime, entry.mtime);
        break;
      }
    }
    if (xattrs) node.pendingXattrs = xattrs;
  }

  private layerXattrs(entry: TarEntry): Map<string, Buffer> | undefined {
    const kept = new Map([...entry.xattrs].filter(([name]) => isLayerXattr(name)));
    return kept.size > 0 ? kept : undefined;
  }

  private applyDirectoryMetadata(target: string[], entry: TarEntry): void {
    const absolute = this.absolute(target);
    ownedAs(entry, () => lchownSync(absolute, entry.uid, entry.gid));
    chmodSync(absolute, entry.mode);
    const node = this.nodeAt(target, true)!;
    node.realDir = true;
    node.written = true;
    node.pendingMtime = entry.mtime;
    node.pendingXattrs = this.layerXattrs(entry);
  }

  private applyHardlink(target: string[], entry: TarEntry, exists: boolean): void {
    const linkParts = this.entryParts(entry.linkTarget ?? '', `${entry.path} (hardlink target "${entry.linkTarget ?? ''}")`);
    if (linkParts.length === 0) throw new EntryConflictError(entry.path, 'the hardlink has no target');
    const linkParent = this.resolveDirectory(linkParts.slice(0, -1), entry.path, false);
    const source = [...linkParent, linkParts[linkParts.length - 1]!];
    if (source.join('/') === target.join('/')) return; // a link to itself changes nothing
    const sourceStats = lstatSync(this.absolute(source), { throwIfNoEntry: false });
    if (!sourceStats) throw new EntryConflictError(entry.path, `its hardlink target "${entry.linkTarget}" does not exist`);
    if (sourceStats.isDirectory()) throw new EntryConflictError(entry.path, `its hardlink target "${entry.linkTarget}" is a directory`);
    if (exists) this.remove(target);
    // link(2) does not follow a symlink at the source, so the link stays inside the root.
    linkSync(this.absolute(source), this.absolute(target));
    this.freshNode(target).written = true;
  }

  private async applyWhiteout(parent: string[], name: string, entryPath: string): Promise<void> {
    if (name === '' || name === '.' || name === '..') throw new UnsafePathError(entryPath, 'it is a whiteout for an invalid name');
    const target = [...parent, name];
    const node = this.nodeAt(target, false);
    // A whiteout only hides lower layers, never what this same layer wrote.
    if (node && hasWritten(node)) return;
    const absolute = this.absolute(target);
    const existing = lstatSync(absolute, { throwIfNoEntry: false });
    if (this.mode === 'merge') {
      if (existing) this.remove(target);
      return;
    }
    if (existing) return;
    await this.whiteouts.create(absolute);
  }

  private applyOpaque(directory: string[]): void {
    const node = this.nodeAt(directory, true)!;
    if (this.mode === 'lower') {
      node.opaque = true;
      return;
    }
    this.pruneUnwritten(directory, node);
  }

  /** Merge mode: removes everything below `directory` that this layer did not write. */
  private pruneUnwritten(directory: string[], node: PathNode): void {
    const absolute = this.absolute(directory);
    for (const raw of readdirSync(absolute, { encoding: 'buffer' })) {
      const name = raw.toString('utf8');
      const child = node.children?.get(name);
      if (child && Buffer.from(name, 'utf8').equals(raw) && hasWritten(child)) {
        // Kept, but what lower layers had inside it is hidden by the opaque parent too.
        if (child.realDir) this.pruneUnwritten([...directory, name], child);
        continue;
      }
      rmSync(Buffer.concat([Buffer.from(`${absolute}/`, 'utf8'), raw]), { recursive: true, force: true });
      node.children?.delete(name);
    }
  }

  /** Sets what has to wait until every entry is in place: xattrs, then directory mtimes. */
  async finish(): Promise<void> {
    this.whiteouts.dispose();
    const assignments: XattrAssignment[] = [];
    const mtimes: Array<{ path: string; mtime: number }> = [];
    const stack: Array<{ parts: string[]; node: PathNode }> = [{ parts: [], node: this.tree }];
    while (stack.length > 0) {
      const { parts, node } = stack.pop()!;
      const xattrs = new Map(node.pendingXattrs ?? []);
      if (node.opaque) xattrs.set(LOWER_OPAQUE_XATTR, Buffer.from('y'));
      if (xattrs.size > 0) assignments.push({ path: this.absolute(parts), xattrs });
      if (node.pendingMtime !== undefined) mtimes.push({ path: this.absolute(parts), mtime: node.pendingMtime });
      for (const [name, child] of node.children ?? []) stack.push({ parts: [...parts, name], node: child });
    }
    await writeXattrs(assignments);
    for (const { path, mtime } of mtimes) lutimesSync(path, mtime, mtime);
  }

  /** Removes the shared whiteout template if unpacking stopped half way. */
  abandon(): void {
    this.whiteouts.dispose();
  }
}

/**
 * An archive entry's path cleaned as Go's filepath.Clean, relative to the unpack
 * directory: a leading `/` and inner `..` are folded away; a path that still climbs
 * above the directory is refused, as Docker refuses it.
 */
function cleanArchivePath(entryPath: string, shownAs: string): string {
  const kept: string[] = [];
  for (const part of entryPath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') kept.push(part);
    else if (kept.length > 0) kept.pop();
    else if (!entryPath.startsWith('/')) throw new UnsafePathError(shownAs, 'it climbs above the directory it is unpacked into');
  }
  return kept.join('/');
}

function openSyncExclusive(path: string): number {
  // O_EXCL also refuses to follow a symlink at the last component.
  return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}
