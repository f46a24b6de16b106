import { mkdir, mkdtemp, rm, access, constants } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RiboError } from '../errors.js';
import { findExecutable } from './executables.js';

export type DriverName = 'overlay' | 'fuse-overlayfs';

export const DRIVER_NAMES: readonly DriverName[] = ['overlay', 'fuse-overlayfs'];

export class MountError extends RiboError {}

/** The directories of one overlay: lower dirs top-most first, a fresh upper and work dir, the mount point. */
export interface OverlayDirs {
  lowers: string[];
  upper: string;
  work: string;
  target: string;
}

/**
 * Mounts layer stacks. Both drivers leave the changes in `upper` in the
 * encodings src/layer understands (0/0 char devices for deletions, opaque
 * markers as xattrs or .wh..wh..opq).
 */
export interface MountDriver {
  readonly name: DriverName;
  mount(dirs: OverlayDirs): Promise<void>;
  unmount(target: string): Promise<void>;
}

/**
 * Overlay refuses an empty lower list, and its option string is limited to one
 * page; lower dirs are therefore given relative to their common parent, which
 * becomes the mount helper's working directory.
 */
function lowerdirOption(lowers: string[], emptyDir: string): { option: string; cwd: string | undefined } {
  const dirs = lowers.length > 0 ? lowers : [emptyDir];
  const parents = new Set(dirs.map((d) => path.dirname(d)));
  if (parents.size === 1) {
    const cwd = [...parents][0];
    return { option: dirs.map((d) => path.basename(d)).join(':'), cwd };
  }
  return { option: dirs.join(':'), cwd: undefined };
}

function escapeOption(value: string): string {
  // Commas separate mount options; overlay accepts them escaped with a backslash.
  return value.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/:/g, '\\:');
}

async function unmountPath(target: string): Promise<void> {
  const result = await execa('umount', [target], { reject: false });
  if (result.exitCode !== 0) {
    // A process may still hold the mount for a moment after the container exits.
    const lazy = await execa('umount', ['-l', target], { reject: false });
    if (lazy.exitCode !== 0) throw new MountError(`Could not unmount ${target}: ${result.stderr.trim() || lazy.stderr.trim()}`);
  }
}

export class KernelOverlayDriver implements MountDriver {
  readonly name = 'overlay' as const;
  /** userxattr is needed inside a user namespace; real root uses trusted.* xattrs. */
  constructor(private readonly userXattr: boolean, private readonly emptyDir: string) {}

  async mount(dirs: OverlayDirs): Promise<void> {
    await mkdir(this.emptyDir, { recursive: true });
    const lower = lowerdirOption(dirs.lowers, this.emptyDir);
    const options = [
      `lowerdir=${lower.option.split(':').map(escapeOption).join(':')}`,
      `upperdir=${escapeOption(dirs.upper)}`,
      `workdir=${escapeOption(dirs.work)}`,
      ...(this.userXattr ? ['userxattr'] : []),
    ].join(',');
    if (options.length > 4000) {
      throw new MountError(`The image has too many layers (${dirs.lowers.length}) for one overlay mount; squash some of them.`);
    }
    const result = await execa('mount', ['-t', 'overlay', 'overlay', '-o', options, dirs.target], { reject: false, cwd: lower.cwd });
    if (result.exitCode !== 0) throw new MountError(`Kernel overlay mount failed on ${dirs.target}: ${result.stderr.trim()}`);
  }

  unmount(target: string): Promise<void> {
    return unmountPath(target);
  }
}

export class FuseOverlayDriver implements MountDriver {
  readonly name = 'fuse-overlayfs' as const;
  constructor(private readonly binary: string, private readonly emptyDir: string) {}

  async mount(dirs: OverlayDirs): Promise<void> {
    await mkdir(this.emptyDir, { recursive: true });
    const lowers = dirs.lowers.length > 0 ? dirs.lowers : [this.emptyDir];
    const options = [`lowerdir=${lowers.map(escapeOption).join(':')}`, `upperdir=${escapeOption(dirs.upper)}`, `workdir=${escapeOption(dirs.work)}`].join(',');
    const result = await execa(this.binary, ['-o', options, dirs.target], { reject: false });
    if (result.exitCode !== 0) throw new MountError(`fuse-overlayfs failed to mount ${dirs.target}: ${result.stderr.trim()}`);
  }

  unmount(target: string): Promise<void> {
    return unmountPath(target);
  }
}

/** Mounts a tiny overlay in `scratch` to see whether `driver` works here. */
async function probe(driver: MountDriver, scratch: string): Promise<string | undefined> {
  const base = await mkdtemp(path.join(scratch, 'probe-'));
  try {
    const dirs = { lowers: [path.join(base, 'lower')], upper: path.join(base, 'upper'), work: path.join(base, 'work'), target: path.join(base, 'merged') };
    for (const d of [...dirs.lowers, dirs.upper, dirs.work, dirs.target]) await mkdir(d);
    await driver.mount(dirs);
    await driver.unmount(dirs.target);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

/**
 * Picks the mount driver: the one asked for, or kernel overlay when it works
 * here and fuse-overlayfs otherwise. A driver that was asked for and fails is
 * an error, never a silent fallback.
 */
export async function selectDriver(opts: { requested?: string; scratchDir: string; rootless: boolean }): Promise<MountDriver> {
  const emptyDir = path.join(opts.scratchDir, 'empty-lower');
  await mkdir(opts.scratchDir, { recursive: true });
  const requested = opts.requested;
  if (requested !== undefined && !DRIVER_NAMES.includes(requested as DriverName)) {
    throw new MountError(`Unknown storage driver "${requested}" (from --storage-driver or RIBO_STORAGE_DRIVER); use one of: ${DRIVER_NAMES.join(', ')}.`);
  }
  const failures: string[] = [];
  if (requested === undefined || requested === 'overlay') {
    const kernel = new KernelOverlayDriver(opts.rootless, emptyDir);
    const failure = await probe(kernel, opts.scratchDir);
    if (!failure) return kernel;
    if (requested === 'overlay') throw new MountError(`The kernel overlay driver was requested but does not work here: ${failure}`);
    failures.push(`kernel overlay: ${failure}`);
  }
  const binary = await findExecutable('fuse-overlayfs');
  if (!binary) {
    failures.push('fuse-overlayfs: not installed (apt-get install fuse-overlayfs)');
  } else {
    const fuseAccess = await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => undefined, () => '/dev/fuse is not readable and writable by this user (as root: chmod 0666 /dev/fuse)');
    const fuse = new FuseOverlayDriver(binary, emptyDir);
    const failure = fuseAccess ?? (await probe(fuse, opts.scratchDir));
    if (!failure) return fuse;
    failures.push(`fuse-overlayfs: ${failure}`);
  }
  throw new MountError(`No storage driver works on this machine. ${failures.join('; ')}.`);
}
