/**
 * Choosing the snapshotter of a command: the one asked for (--storage-driver,
 * RIBO_STORAGE_DRIVER), or the first that works here of kernel overlay,
 * fuse-overlayfs and the copying fallback.
 */
import { access, constants, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { findExecutable } from '../files/executables.js';
import { CopySnapshotter } from './copy.js';
import { MountError } from './mount.js';
import { FuseOverlaySnapshotter, KernelOverlaySnapshotter } from './overlay.js';
import { DRIVER_NAMES, throwaway, type Capabilities, type DriverName, type PrepareRequest, type Snapshotter, type View } from './snapshotter.js';

/**
 * Kernel overlay where it works, else fuse-overlayfs, else copying. Which one
 * works is found by the first real prepare rather than by a trial mount up
 * front, which would cost every command a mount and an unmount. What the
 * first prepare chose holds for the rest of the session, and until then
 * `driver` is undefined: nothing may claim an implementation not yet chosen.
 */
class FirstWorkingSnapshotter implements Snapshotter {
  private chosen?: Snapshotter;
  private choosing?: Promise<View>;

  constructor(
    private readonly candidates: Array<() => Promise<Snapshotter | string>>,
    /** Told when the copying fallback had to be chosen, so it is never a silent slowdown. */
    private readonly warn: (message: string) => void,
  ) {}

  get driver(): DriverName | undefined {
    return this.chosen?.driver;
  }

  get capabilities(): Capabilities | undefined {
    return this.chosen?.capabilities;
  }

  async prepare(request: PrepareRequest): Promise<View> {
    if (this.chosen) return this.chosen.prepare(request);
    if (this.choosing) {
      await this.choosing.catch(() => undefined);
      return this.prepare(request);
    }
    this.choosing = this.choose(request);
    // A failed choice is tried again by the next prepare.
    this.choosing.catch(() => (this.choosing = undefined));
    return this.choosing;
  }

  async view(lowers: string[], dir: string): Promise<View> {
    return throwaway(await this.prepare({ lowers, dir, volatile: true }), dir);
  }

  private async choose(request: PrepareRequest): Promise<View> {
    const failures: string[] = [];
    for (const [i, candidate] of this.candidates.entries()) {
      const snapshotter = await candidate();
      if (typeof snapshotter === 'string') {
        failures.push(snapshotter);
        continue;
      }
      try {
        // A failed attempt may leave a half-made work dir; prepare starts from a fresh one.
        const view = await snapshotter.prepare(request);
        this.chosen = snapshotter;
        // The last candidate is the copying fallback.
        if (i === this.candidates.length - 1 && failures.length > 0) {
          this.warn(`neither kernel overlay nor fuse-overlayfs works here (${failures.join('; ')}), so ribo copies each image into place instead, which is much slower. ` +
            'Fix one of them (`ribo info` shows which driver is in use), or choose this one with --storage-driver copy to silence this warning.');
        }
        return view;
      } catch (error) {
        failures.push(`${snapshotter.driver}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new MountError(`No storage driver works on this machine. ${failures.join('; ')}.`);
  }
}

/** Where a trial view can be made: the store's temp dirs. */
export interface TempDirs {
  makeTempDir(prefix: string): Promise<string>;
}

/** The implementation `snapshotter` uses, preparing a trial view if it has not prepared one yet (`ribo info`). */
export async function settleSnapshotter(snapshotter: Snapshotter, store: TempDirs): Promise<DriverName> {
  if (snapshotter.driver) return snapshotter.driver;
  const base = await store.makeTempDir('probe-');
  try {
    const lower = path.join(base, 'lower');
    await mkdir(lower);
    const view = await snapshotter.view([lower], path.join(base, 'view'));
    await view.release();
    return view.driver;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function fuseSnapshotter(emptyDir: string): Promise<FuseOverlaySnapshotter | string> {
  const binary = await findExecutable('fuse-overlayfs');
  if (!binary) return 'fuse-overlayfs: not installed (apt-get install fuse-overlayfs)';
  const usable = await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false);
  if (!usable) return 'fuse-overlayfs: /dev/fuse is not readable and writable by this user (as root: chmod 0666 /dev/fuse)';
  return new FuseOverlaySnapshotter(binary, emptyDir);
}

/**
 * The snapshotter of a command: the one asked for, or the first that works.
 * One that was asked for and fails is an error, never a silent fallback.
 */
export async function selectSnapshotter(opts: { requested?: string; scratchDir: string; rootless: boolean; warn: (message: string) => void }): Promise<Snapshotter> {
  const emptyDir = path.join(opts.scratchDir, 'empty-lower');
  await mkdir(opts.scratchDir, { recursive: true });
  const requested = opts.requested;
  if (requested !== undefined && !DRIVER_NAMES.includes(requested as DriverName)) {
    throw new MountError(`Unknown storage driver "${requested}" (from --storage-driver or RIBO_STORAGE_DRIVER); use one of: ${DRIVER_NAMES.join(', ')}.`);
  }
  if (requested === 'overlay') return new KernelOverlaySnapshotter(opts.rootless, emptyDir);
  if (requested === 'fuse-overlayfs') {
    const fuse = await fuseSnapshotter(emptyDir);
    if (typeof fuse === 'string') throw new MountError(`The fuse-overlayfs driver was requested but cannot be used: ${fuse.replace(/^fuse-overlayfs: /, '')}.`);
    return fuse;
  }
  if (requested === 'copy') return new CopySnapshotter();
  return new FirstWorkingSnapshotter(
    [async () => new KernelOverlaySnapshotter(opts.rootless, emptyDir), () => fuseSnapshotter(emptyDir), async () => new CopySnapshotter()],
    opts.warn,
  );
}
