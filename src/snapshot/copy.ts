/**
 * The copying fallback for hosts where neither kernel overlay nor
 * fuse-overlayfs can be mounted: "mounting" copies the lower layers into the
 * target directory, and releasing the view finds what changed there and writes it to
 * the upper dir in the encoding src/layer reads (changed entries copied, `.wh.`
 * files for deletions, `.wh..wh..opq` for directories made anew), then empties
 * the target. Slow for big images, but every build and run works.
 */
import { lstatSync, readdirSync, utimesSync, type BigIntStats } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { applyLayer, writeLayerFromUpperDir } from '../layer/index.js';
import { MountError, uniqueLowers, type MountSpec, type ViewDirs } from './mount.js';
import { BaseSnapshotter } from './snapshotter.js';

/** What a path was right after the lower layers were copied in. */
interface Snapshot {
  ino: string;
  ctime: string;
  /** Its birth time (statx btime), which tells a directory made anew from the old one when the file system hands out the same inode number again. */
  birth?: string;
  dir: boolean;
}

/** Kept beside the target between attach and detach (a record left without a view marks a crashed one). */
interface CopyRecord {
  upper: string;
  snapshot: Record<string, Snapshot>;
  /** Whether the birth times are real: without statx, or on a file system that keeps none, they are the ctime or 0. */
  birthTimes?: boolean;
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

function recordFile(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.copy-driver.json`);
}

/** Every path below `root` (relative, parents before children) with its lstat. */
function walk(root: string, visit: (rel: string, info: BigIntStats) => void, rel = ''): void {
  for (const name of readdirSync(path.join(root, rel)).sort()) {
    const child = rel === '' ? name : `${rel}/${name}`;
    const info = lstatSync(path.join(root, child), { bigint: true });
    visit(child, info);
    if (info.isDirectory()) walk(root, visit, child);
  }
}

/** Applies one lower dir (overlay encoding) onto `target`, through the layer tar format that both sides already speak. */
async function copyLayerInto(lower: string, target: string): Promise<void> {
  const pipe = new PassThrough();
  await Promise.all([writeLayerFromUpperDir(lower, pipe, { compression: 'none' }), applyLayer(pipe, target, { mode: 'merge' })]);
}

export class CopySnapshotter extends BaseSnapshotter {
  readonly driver = 'copy' as const;

  protected describe(dirs: ViewDirs): MountSpec {
    return { type: 'copy', source: 'copy', target: dirs.target, options: [], lowers: uniqueLowers(dirs.lowers), upper: dirs.upper, work: dirs.work };
  }

  /** A view whose process died leaves a half-made copy and its record: both go. */
  protected override async clearLeftovers(dirs: ViewDirs): Promise<void> {
    await super.clearLeftovers(dirs);
    const file = recordFile(dirs.target);
    if (await readFile(file).then(() => true, () => false)) {
      await rm(dirs.target, { recursive: true, force: true });
      await rm(file, { force: true });
    }
  }

  protected async attach(spec: MountSpec): Promise<void> {
    if ((await readdir(spec.target)).length > 0) throw new MountError(`Cannot use ${spec.target} as a container root: it is not empty.`);
    try {
      // Bottom-most layer first, so upper layers' whiteouts and files win.
      for (const lower of [...spec.lowers].reverse()) await copyLayerInto(lower, spec.target);
    } catch (error) {
      await rm(spec.target, { recursive: true, force: true });
      await mkdir(spec.target);
      throw new MountError(`Copying the image's layers into ${spec.target} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const snapshot: Record<string, Snapshot> = {};
    let birthTimes = false;
    walk(spec.target, (rel, info) => {
      snapshot[rel] = { ino: String(info.ino), ctime: String(info.ctimeNs), birth: String(info.birthtimeNs), dir: info.isDirectory() };
      // Where Node reads no birth time it shows 0 or the ctime; a copied tree whose entries all had their
      // ctime changed in the very tick they were made is unlikely, so one difference shows real ones.
      if (info.birthtimeNs > 0n && info.birthtimeNs !== info.ctimeNs) birthTimes = true;
    });
    const record: CopyRecord = { upper: spec.upper, snapshot, birthTimes };
    await writeFile(recordFile(spec.target), JSON.stringify(record));
  }

  protected async detach(spec: MountSpec): Promise<void> {
    const file = recordFile(spec.target);
    const record = JSON.parse(await readFile(file, 'utf8')) as CopyRecord;
    await this.writeChanges(spec.target, record);
    await rm(spec.target, { recursive: true, force: true });
    await mkdir(spec.target);
    await rm(file, { force: true });
  }

  /** Writes what changed under `target` since mount into the upper dir. */
  private async writeChanges(target: string, record: CopyRecord): Promise<void> {
    const present = new Set<string>();
    /** Directories that are still the ones the lower layers made (same inode). */
    const sameDirs = new Set<string>(['.']);
    const changed = new Set<string>();
    const remade: string[] = [];
    // The same inode: the same number and (where the file system keeps one) the same birth time, as
    // ext4 gives a directory made right after one was deleted the number the deleted one had.
    const sameInode = (before: Snapshot, info: BigIntStats) =>
      before.ino === String(info.ino) && (!record.birthTimes || before.birth === undefined || before.birth === String(info.birthtimeNs));
    walk(target, (rel, info) => {
      present.add(rel);
      const before = record.snapshot[rel];
      if (info.isDirectory() && before?.dir && sameInode(before, info)) sameDirs.add(rel);
      if (before && sameInode(before, info) && before.ctime === String(info.ctimeNs)) return;
      // A changed entry brings its parent directories, with their own metadata, as overlay's copy-up does.
      for (let parent = path.posix.dirname(rel); parent !== '.'; parent = path.posix.dirname(parent)) changed.add(parent);
      changed.add(rel);
      if (info.isDirectory() && before?.dir && !sameInode(before, info)) remade.push(rel);
    });
    // Only the top-most path of a deleted tree needs a whiteout, and none is needed
    // inside a directory that was replaced: the replacement hides the old contents.
    const deleted = Object.keys(record.snapshot).filter((rel) => !present.has(rel) && sameDirs.has(path.posix.dirname(rel)));
    if (changed.size > 0) {
      // Parents sort before their children, so tar creates each directory before what is in it.
      const list = [...changed].sort().map((rel) => `./${rel}\0`).join('');
      const script =
        'tar -C "$1" --xattrs --xattrs-include="*" --numeric-owner --no-recursion --null -T - -cf - | ' +
        'tar -C "$2" --xattrs --xattrs-include="*" --numeric-owner -xpf -';
      const result = await execa('sh', ['-c', script, 'sh', target, record.upper], { input: list, reject: false });
      if (result.exitCode !== 0) throw new MountError(`Recording the container's changes from ${target} failed: ${result.stderr.trim()}`);
    }
    const marked = new Set<string>();
    for (const rel of deleted) {
      const parent = path.join(record.upper, path.posix.dirname(rel));
      await mkdir(parent, { recursive: true });
      await writeFile(path.join(parent, `${WHITEOUT_PREFIX}${path.posix.basename(rel)}`), '');
      marked.add(path.posix.dirname(rel));
    }
    // A directory deleted and made again hides everything the layers below had in it.
    for (const rel of remade) {
      await writeFile(path.join(record.upper, rel, OPAQUE_MARKER), '');
      marked.add(rel);
    }
    // Writing the markers touched their directories: they get back the times the container left them with,
    // as an overlay's upper dir has them (the layer records them).
    for (const rel of marked) {
      const info = lstatSync(path.join(target, rel));
      utimesSync(path.join(record.upper, rel), info.atime, info.mtime);
    }
  }
}
