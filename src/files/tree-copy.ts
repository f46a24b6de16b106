import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync,
  readdirSync, readlinkSync, readSync, rmSync, symlinkSync, utimesSync, writeSync, type Stats,
} from 'node:fs';
import { chmod, lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { RiboError } from '../errors.js';
import { makeDirsInRoot, resolveInRoot } from './root-path.js';

/*
 * Copying host files into a container's root file system: Dockerfile COPY
 * and ADD (build/copy.ts, which adds source matching, .dockerignore and
 * --parents) and `ribo cp` into a container (run/copy-files.ts).
 */

export class SpecialFileError extends RiboError {}

export interface Owner {
  uid: number;
  gid: number;
}

export interface TreeCopyOptions {
  /** Owner of what is copied and of the directories made for the destination. */
  owner: Owner;
  /** Copied entries keep the owners they have in the source; directories made for the destination still get `owner`. */
  keepOwners?: boolean;
  /** Permission bits set on every file and directory copied (instead of the source's). */
  mode?: number;
  /** Paths (relative, as given to copy()) left out, with what is below them. */
  skip?: (rel: string) => boolean;
  /** Names the source in errors, e.g. "COPY source". */
  what: string;
}

function lstatOrUndefined(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
}

/** A directory, symlink or file of another type in the way of `target` is removed first. */
function clearTarget(target: string, isDir: boolean): void {
  const existing = lstatOrUndefined(target);
  if (existing && (existing.isDirectory() !== isDir || existing.isSymbolicLink())) rmSync(target, { recursive: true, force: true });
}

const COPY_BUFFER_SIZE = 256 * 1024;
/** The longest the copy keeps the event loop (progress output, parallel stages) waiting. */
const YIELD_AFTER_MS = 20;

/**
 * The copy works with synchronous fs calls on open file descriptors: a file
 * costs a few microseconds of system calls, where promise-based calls cost a
 * thread-pool round trip each and, many in flight, contend for the same
 * directory's lock (measured on 6,000 small files: several times less CPU).
 * The event loop gets a turn every YIELD_AFTER_MS.
 */
export class TreeCopier {
  private readonly buffer = Buffer.allocUnsafe(COPY_BUFFER_SIZE);
  private lastTurn = performance.now();

  constructor(private readonly options: TreeCopyOptions) {}

  private async turn(): Promise<void> {
    if (performance.now() - this.lastTurn < YIELD_AFTER_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.lastTurn = performance.now();
  }

  /**
   * Copies one entry (recursively for dirs) with mode and times kept and ownership
   * set to the options' owner; a directory's own mode and times are set after its
   * entries. `fresh`: the target's directory was made by this copy, so nothing is
   * there to replace, which saves a lookup per file.
   */
  async copy(src: string, target: string, rel: string, fresh = false): Promise<void> {
    if (this.options.skip?.(rel)) return;
    await this.turn();
    const { mode } = this.options;
    const info = lstatSync(src);
    const owner = this.ownerFor(info);
    if (info.isDirectory()) {
      const existing = fresh ? undefined : lstatOrUndefined(target);
      const created = !existing?.isDirectory();
      if (existing && created) rmSync(target, { recursive: true, force: true });
      if (created) mkdirSync(target);
      for (const name of readdirSync(src).sort()) await this.copy(path.join(src, name), path.join(target, name), path.posix.join(rel, name), created);
      chmodSync(target, mode ?? info.mode & 0o7777);
      lchownSync(target, owner.uid, owner.gid);
      utimesSync(target, info.atime, info.mtime);
    } else if (info.isSymbolicLink()) {
      if (!fresh) rmSync(target, { recursive: true, force: true });
      symlinkSync(readlinkSync(src), target);
      lchownSync(target, owner.uid, owner.gid);
      lutimesSync(target, info.atime, info.mtime);
    } else if (info.isFile()) {
      if (!fresh) clearTarget(target, false);
      this.copyFile(src, target, info);
    } else {
      throw new SpecialFileError(`${this.options.what} ${rel} is a special file (socket, device or fifo); only files, directories and symlinks can be copied.`);
    }
  }

  private ownerFor(info: Stats): Owner {
    return this.options.keepOwners ? { uid: info.uid, gid: info.gid } : this.options.owner;
  }

  private copyFile(src: string, target: string, info: Stats): void {
    const from = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      // An existing file is overwritten in place, as copyFile(3) would.
      const to = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
      try {
        for (let read; (read = readSync(from, this.buffer, 0, COPY_BUFFER_SIZE, null)) > 0; ) {
          for (let written = 0; written < read; ) written += writeSync(to, this.buffer, written, read - written);
        }
        // chown clears setuid and setgid, so the mode is set after it.
        const owner = this.ownerFor(info);
        fchownSync(to, owner.uid, owner.gid);
        fchmodSync(to, this.options.mode ?? info.mode & 0o7777);
        futimesSync(to, info.atime, info.mtime);
      } finally {
        closeSync(to);
      }
    } finally {
      closeSync(from);
    }
  }
}

export interface CopyIntoRootRequest extends TreeCopyOptions {
  /** The host path copied; a symlink here is copied as a link. */
  src: string;
  /** How the source is named in skip() and errors ("." for a whole directory). */
  rel: string;
  rootfs: string;
  /** Absolute destination inside the root; a trailing / means "into this directory". */
  dest: string;
  /** Put a file into `dest` even when dest has no trailing / and does not exist. */
  destIsDir?: boolean;
}

/** Creates missing directories of a container path (symlinks followed inside the root). */
export function mkdirInRoot(rootfs: string, containerDir: string, owner: Owner): Promise<string> {
  return makeDirsInRoot(rootfs, containerDir, owner, `Cannot copy into ${containerDir}`);
}

/**
 * Copies one host path into a root with Docker's COPY rules for a source: a
 * directory copies its contents into `dest` (made if missing); a file goes
 * into `dest` when it ends with / or is a directory, else becomes `dest`, and
 * a `dest` that is a symlink (even a dangling one) is written through, inside
 * the root, as Docker and BuildKit do.
 */
export async function copyIntoRoot(req: CopyIntoRootRequest): Promise<void> {
  const { src, rel, rootfs, dest, owner } = req;
  const info = await lstat(src);
  if (info.isDirectory()) {
    const copier = new TreeCopier(req);
    const existed = await resolveInRoot(rootfs, dest).then(stat).then((found) => found.isDirectory(), () => false);
    const targetDir = await mkdirInRoot(rootfs, dest, owner);
    for (const name of (await readdir(src)).sort()) await copier.copy(path.join(src, name), path.join(targetDir, name), rel === '.' ? name : path.posix.join(rel, name));
    // A destination directory that was there keeps its mode, as it keeps its owner (BuildKit and buildah alike):
    // `COPY --chmod=0644 . /app/` must not make /app untraversable.
    if (req.mode !== undefined && !existed) await chmod(targetDir, req.mode);
    return;
  }
  // Filters apply below a directory source, never to the source named itself.
  const copier = new TreeCopier({ ...req, skip: undefined });
  const destHost = await resolveInRoot(rootfs, dest);
  const destInfo = await stat(destHost).catch(() => undefined);
  if (req.destIsDir || dest.endsWith('/') || destInfo?.isDirectory()) {
    const targetDir = await mkdirInRoot(rootfs, dest, owner);
    await copier.copy(src, path.join(targetDir, path.basename(rel)), rel);
  } else {
    const parent = await mkdirInRoot(rootfs, `/${path.relative(rootfs, path.dirname(destHost))}`, owner);
    await copier.copy(src, path.join(parent, path.basename(destHost)), rel);
  }
}
