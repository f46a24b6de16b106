import { mkdir, rm, access, constants } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { RiboError } from '../errors.js';
import { findExecutable } from './executables.js';
import { CopyDriver } from './copy-driver.js';

export type DriverName = 'overlay' | 'fuse-overlayfs' | 'copy';

export const DRIVER_NAMES: readonly DriverName[] = ['overlay', 'fuse-overlayfs', 'copy'];

export class MountError extends RiboError {}

/** The directories of one overlay: lower dirs top-most first, a fresh upper and work dir, the mount point. */
export interface OverlayDirs {
  lowers: string[];
  upper: string;
  work: string;
  target: string;
  /**
   * The writes need not reach the disk before the caller syncs them itself:
   * build steps, whose upper dir is synced once when it is committed. The
   * overlay then skips every sync the container's programs ask for (dpkg
   * asks for many), as buildah's build mounts do.
   */
  volatile?: boolean;
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
      ...(dirs.volatile ? ['volatile'] : []),
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
    const options = [
      `lowerdir=${lowers.map(escapeOption).join(':')}`,
      `upperdir=${escapeOption(dirs.upper)}`,
      `workdir=${escapeOption(dirs.work)}`,
      ...(dirs.volatile ? ['fsync=0'] : []),
    ].join(',');
    const result = await execa(this.binary, ['-o', options, dirs.target], { reject: false });
    if (result.exitCode !== 0) throw new MountError(`fuse-overlayfs failed to mount ${dirs.target}: ${result.stderr.trim()}`);
  }

  unmount(target: string): Promise<void> {
    return unmountPath(target);
  }
}

/**
 * Kernel overlay where it works, else fuse-overlayfs. Which one works is found
 * by the first real mount rather than by a trial mount up front, which would
 * cost every command a mount and an unmount. What the first mount chose holds
 * for the rest of the session.
 */
class FirstWorkingDriver implements MountDriver {
  private chosen?: MountDriver;
  private choosing?: Promise<MountDriver>;

  constructor(
    private readonly candidates: Array<() => Promise<MountDriver | string>>,
    /** Told when the copying fallback had to be chosen, so it is never a silent slowdown. */
    private readonly warn: (message: string) => void,
  ) {}

  /** The chosen driver's name; before the first mount, the one that will be tried first. */
  get name(): DriverName {
    return this.chosen?.name ?? 'overlay';
  }

  async mount(dirs: OverlayDirs): Promise<void> {
    if (this.chosen) return this.chosen.mount(dirs);
    if (this.choosing) {
      await this.choosing.catch(() => undefined);
      return this.mount(dirs);
    }
    this.choosing = this.choose(dirs);
    this.chosen = await this.choosing;
  }

  unmount(target: string): Promise<void> {
    return unmountPath(target);
  }

  /** Settles the choice with a trial mount in a temp dir of the store's (for `ribo info`). */
  async settle(store: TempDirs): Promise<DriverName> {
    if (!this.chosen) {
      const base = await store.makeTempDir('probe-');
      try {
        const dirs = { lowers: [path.join(base, 'lower')], upper: path.join(base, 'upper'), work: path.join(base, 'work'), target: path.join(base, 'merged') };
        for (const d of [...dirs.lowers, dirs.upper, dirs.work, dirs.target]) await mkdir(d);
        await this.mount(dirs);
        await this.unmount(dirs.target);
      } finally {
        await rm(base, { recursive: true, force: true });
      }
    }
    return this.name;
  }

  private async choose(dirs: OverlayDirs): Promise<MountDriver> {
    const failures: string[] = [];
    for (const candidate of this.candidates) {
      const driver = await candidate();
      if (typeof driver === 'string') {
        failures.push(driver);
        continue;
      }
      try {
        await driver.mount(dirs);
        if (driver.name === 'copy') {
          this.warn(`neither kernel overlay nor fuse-overlayfs works here (${failures.join('; ')}), so ribo copies each image into place instead, which is much slower. ` +
            'Fix one of them (`ribo info` shows which driver is in use), or choose this one with --storage-driver copy to silence this warning.');
        }
        return driver;
      } catch (error) {
        failures.push(`${driver.name}: ${error instanceof Error ? error.message : String(error)}`);
        // A failed attempt may leave a half-made work dir behind; the next driver needs it empty.
        await rm(dirs.work, { recursive: true, force: true });
        await mkdir(dirs.work, { recursive: true });
      }
    }
    throw new MountError(`No storage driver works on this machine. ${failures.join('; ')}.`);
  }
}

/** Where a trial mount can be made: the store's temp dirs. */
export interface TempDirs {
  makeTempDir(prefix: string): Promise<string>;
}

/** Settles which driver `driver` is, mounting a trial overlay if it has not mounted yet. */
export async function settleDriver(driver: MountDriver, store: TempDirs): Promise<DriverName> {
  return driver instanceof FirstWorkingDriver ? driver.settle(store) : driver.name;
}

async function fuseDriver(emptyDir: string): Promise<FuseOverlayDriver | string> {
  const binary = await findExecutable('fuse-overlayfs');
  if (!binary) return 'fuse-overlayfs: not installed (apt-get install fuse-overlayfs)';
  const usable = await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false);
  if (!usable) return 'fuse-overlayfs: /dev/fuse is not readable and writable by this user (as root: chmod 0666 /dev/fuse)';
  return new FuseOverlayDriver(binary, emptyDir);
}

/**
 * Picks the mount driver: the one asked for, or kernel overlay when it works
 * here, else fuse-overlayfs, else the copying fallback (with a warning). A driver that was asked for and fails is
 * an error, never a silent fallback.
 */
export async function selectDriver(opts: { requested?: string; scratchDir: string; rootless: boolean; warn: (message: string) => void }): Promise<MountDriver> {
  const emptyDir = path.join(opts.scratchDir, 'empty-lower');
  await mkdir(opts.scratchDir, { recursive: true });
  const requested = opts.requested;
  if (requested !== undefined && !DRIVER_NAMES.includes(requested as DriverName)) {
    throw new MountError(`Unknown storage driver "${requested}" (from --storage-driver or RIBO_STORAGE_DRIVER); use one of: ${DRIVER_NAMES.join(', ')}.`);
  }
  if (requested === 'overlay') return new KernelOverlayDriver(opts.rootless, emptyDir);
  if (requested === 'fuse-overlayfs') {
    const fuse = await fuseDriver(emptyDir);
    if (typeof fuse === 'string') throw new MountError(`The fuse-overlayfs driver was requested but cannot be used: ${fuse.replace(/^fuse-overlayfs: /, '')}.`);
    return fuse;
  }
  if (requested === 'copy') return new CopyDriver();
  return new FirstWorkingDriver(
    [async () => new KernelOverlayDriver(opts.rootless, emptyDir), () => fuseDriver(emptyDir), async () => new CopyDriver()],
    opts.warn,
  );
}
