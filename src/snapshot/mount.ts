/**
 * A mount described as data: what `mount` (or the fuse-overlayfs helper) is
 * given, as a plain object that can be written to a file and replayed (run
 * plans do, from shell). The overlay options are worked out here and nowhere
 * else.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RiboError } from '../errors.js';

export class MountError extends RiboError {}

export interface MountSpec {
  /** `mount -t` for a kernel mount; 'fuse-overlayfs' runs that helper; 'copy' is no mount at all (the copying fallback). */
  type: 'overlay' | 'fuse-overlayfs' | 'copy';
  /** The source word of `mount` ('overlay'). */
  source: string;
  /** The mount point. */
  target: string;
  /** Mount options, each already escaped for the comma-separated option string. */
  options: string[];
  /** Working directory of the mount call: lower dirs are named relative to it when they share one parent. */
  cwd?: string;
  /** The layer dirs of the view, top-most first, each once. */
  lowers: string[];
  upper: string;
  work: string;
}

/** The directories of one writable view. */
export interface ViewDirs {
  /** Layer dirs, top-most first. */
  lowers: string[];
  upper: string;
  work: string;
  target: string;
  /** The writes need not reach the disk before the caller syncs them itself (build steps). */
  volatile?: boolean;
}

/**
 * The lower dirs with each dir once, at its top-most place; every view of every
 * snapshotter goes through here.
 *
 * An image may hold the same layer (same diffID, so the same `layers/<diffID>`
 * dir) more than once: steps that change nothing (`RUN echo one`, then
 * `RUN echo two`) each make an empty layer, as BuildKit and docker do, and the
 * image keeps all of them. The kernel overlay refuses a lower dir given twice
 * (ELOOP, "Too many levels of symbolic links"), so only the top-most occurrence
 * of each is kept, which shows the same tree. Overlay resolves a path top
 * down, and a layer below another can only add what no layer above it
 * decided. The upper occurrence of a layer has already decided every path
 * the layer holds: a file, symlink or whiteout there ends the lookup (and
 * hides any subtree below), an opaque dir hides everything below it, and a
 * plain dir merges on downwards, where the lower occurrence offers exactly
 * the children the upper one already listed, each decided the same way. Paths
 * the layer does not hold it leaves to the layers below either way. So a lower
 * repeat adds nothing and hides nothing, adjacent or not (A, B, A keeps the
 * top A above B). Keeping the bottom-most instead would be wrong: it would let
 * B override the top A.
 */
export function uniqueLowers(lowers: readonly string[]): string[] {
  const seen = new Set<string>();
  return lowers.filter((dir) => !seen.has(dir) && Boolean(seen.add(dir)));
}

function escapeOption(value: string): string {
  // Commas separate mount options and colons lower dirs; overlay accepts both escaped with a backslash.
  return value.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/:/g, '\\:');
}

/** Overlay options longer than a page are refused by the kernel. */
const MAX_OPTIONS = 4000;

/**
 * The mount of a kernel overlay. Overlay refuses an empty lower list, and its
 * option string is limited to one page, so lower dirs sharing a parent are
 * given relative to it, which becomes the mount's working directory.
 */
export function kernelOverlayMount(dirs: ViewDirs, opts: { userXattr: boolean; emptyDir: string }): MountSpec {
  const lowers = uniqueLowers(dirs.lowers);
  const named = lowers.length > 0 ? lowers : [opts.emptyDir];
  const parents = new Set(named.map((d) => path.dirname(d)));
  const cwd = parents.size === 1 ? [...parents][0] : undefined;
  const lowerdir = named.map((d) => escapeOption(cwd ? path.basename(d) : d)).join(':');
  const options = [
    `lowerdir=${lowerdir}`,
    `upperdir=${escapeOption(dirs.upper)}`,
    `workdir=${escapeOption(dirs.work)}`,
    ...(opts.userXattr ? ['userxattr'] : []),
    ...(dirs.volatile ? ['volatile'] : []),
  ];
  if (options.join(',').length > MAX_OPTIONS) {
    throw new MountError(`The image has too many layers (${lowers.length}) for one overlay mount; squash some of them.`);
  }
  return { type: 'overlay', source: 'overlay', target: dirs.target, options, ...(cwd ? { cwd } : {}), lowers, upper: dirs.upper, work: dirs.work };
}

/** The mount of fuse-overlayfs (absolute lower dirs; `fsync=0` is its volatile). */
export function fuseOverlayMount(dirs: ViewDirs, opts: { emptyDir: string }): MountSpec {
  const lowers = uniqueLowers(dirs.lowers);
  const named = lowers.length > 0 ? lowers : [opts.emptyDir];
  const options = [
    `lowerdir=${named.map(escapeOption).join(':')}`,
    `upperdir=${escapeOption(dirs.upper)}`,
    `workdir=${escapeOption(dirs.work)}`,
    ...(dirs.volatile ? ['fsync=0'] : []),
  ];
  return { type: 'fuse-overlayfs', source: 'fuse-overlayfs', target: dirs.target, options, lowers, upper: dirs.upper, work: dirs.work };
}

/** Carries out a kernel or fuse mount; `helper` is the fuse-overlayfs binary. */
export async function performMount(spec: MountSpec, helper?: string): Promise<void> {
  const options = spec.options.join(',');
  if (spec.type === 'overlay') {
    const result = await execa('mount', ['-t', spec.type, spec.source, '-o', options, spec.target], { reject: false, ...(spec.cwd ? { cwd: spec.cwd } : {}) });
    if (result.exitCode !== 0) throw new MountError(`Kernel overlay mount failed on ${spec.target}: ${result.stderr.trim()}`);
    return;
  }
  if (spec.type === 'fuse-overlayfs' && helper) {
    const result = await execa(helper, ['-o', options, spec.target], { reject: false });
    if (result.exitCode !== 0) throw new MountError(`fuse-overlayfs failed to mount ${spec.target}: ${result.stderr.trim()}`);
    return;
  }
  throw new MountError(`A ${spec.type} view of ${spec.target} is not made by a mount call.`);
}

export async function unmountPath(target: string): Promise<void> {
  const result = await execa('umount', [target], { reject: false });
  if (result.exitCode !== 0) {
    // A process may still hold the mount for a moment after the container exits.
    const lazy = await execa('umount', ['-l', target], { reject: false });
    if (lazy.exitCode !== 0) throw new MountError(`Could not unmount ${target}: ${result.stderr.trim() || lazy.stderr.trim()}`);
  }
}

/** Whether something is mounted on `dir` (its device differs from its parent's); cheap, no mount table read. */
export async function isMountPoint(dir: string): Promise<boolean> {
  const [own, parent] = await Promise.all([stat(dir).catch(() => undefined), stat(path.dirname(dir)).catch(() => undefined)]);
  return Boolean(own && parent && own.dev !== parent.dev);
}
