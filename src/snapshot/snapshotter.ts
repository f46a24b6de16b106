/**
 * Snapshotters: a stack of unpacked layers (`layers/<diffID>/`) made into a
 * root file system, in the spirit of containerd's snapshotters. `prepare`
 * gives a writable view (a fresh or kept upper dir over the layers), `view`
 * one whose changes are thrown away; releasing a view unmounts it and leaves
 * its changes in the upper dir, in the encoding src/layer reads. What an
 * implementation can do is said by its capabilities, never by its name.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { isMountPoint, unmountPath, type MountSpec, type ViewDirs } from './mount.js';

export type DriverName = 'overlay' | 'fuse-overlayfs' | 'copy';

export const DRIVER_NAMES: readonly DriverName[] = ['overlay', 'fuse-overlayfs', 'copy'];

export interface Capabilities {
  /** The upper dir is a valid lower dir as it is, so a committed step's upper dir becomes `layers/<diffID>` by a rename. */
  upperIsLowerDir: boolean;
  /** A kept upper dir can be mounted again over its layers, or read as a lower dir (`ribo start`, `ribo cp`). */
  reusesKeptUpper: boolean;
  /** The mount is one `mount` call a shell can replay from its description (run plans). */
  replayableByShell: boolean;
}

const CAPABILITIES: Record<DriverName, Capabilities> = {
  overlay: { upperIsLowerDir: true, reusesKeptUpper: true, replayableByShell: true },
  // Its upper dirs may hold `.wh.` files, which lower dirs in ribo's store never do.
  'fuse-overlayfs': { upperIsLowerDir: false, reusesKeptUpper: true, replayableByShell: false },
  // Changes reach the upper dir only when a view is released, by comparing the copied tree.
  copy: { upperIsLowerDir: false, reusesKeptUpper: false, replayableByShell: false },
};

/** What the implementation a container record names can do; undefined for an unknown name (or none yet). */
export function capabilitiesOf(driver: string | undefined): Capabilities | undefined {
  return DRIVER_NAMES.includes(driver as DriverName) ? CAPABILITIES[driver as DriverName] : undefined;
}

export interface PrepareRequest {
  /** Layer dirs, top-most first; a dir named twice is used once, at its top-most place. */
  lowers: string[];
  /** The view's directory: upper/, work/ and rootfs/ are made in it; an upper/ already there is kept (a restart). */
  dir: string;
  /**
   * The mount may skip the syncs its programs ask for, and the sync of the
   * whole upper file system at unmount: the caller syncs the upper dir itself
   * (build steps), or throws it away (a `run --rm` container, as podman makes
   * its --rm containers volatile: they never outlive a crash).
   */
  volatile?: boolean;
}

/** A mounted view. */
export interface View {
  /** The implementation that made it. */
  driver: DriverName;
  capabilities: Capabilities;
  /** How it was mounted, as data. */
  mount: MountSpec;
  rootfs: string;
  upper: string;
  /** Unmounts; a prepared view's changes stay in `upper`, a throwaway view's directory is removed. */
  release(): Promise<void>;
}

export interface Snapshotter {
  /** The implementation in use; undefined while a first-working choice has not mounted yet. */
  readonly driver: DriverName | undefined;
  readonly capabilities: Capabilities | undefined;
  prepare(request: PrepareRequest): Promise<View>;
  /** The layers as a root file system whose changes are discarded at release (reading an image's files). */
  view(lowers: string[], dir: string): Promise<View>;
}

export function viewDirs(request: PrepareRequest): ViewDirs {
  return {
    lowers: request.lowers,
    upper: path.join(request.dir, 'upper'),
    work: path.join(request.dir, 'work'),
    target: path.join(request.dir, 'rootfs'),
    volatile: request.volatile ?? false,
  };
}

/**
 * The one implementation of prepare, view and release; subclasses say how a
 * view is described, attached and detached.
 */
export abstract class BaseSnapshotter implements Snapshotter {
  abstract readonly driver: DriverName;

  get capabilities(): Capabilities {
    return CAPABILITIES[this.driver];
  }

  protected abstract describe(dirs: ViewDirs): MountSpec;
  protected abstract attach(spec: MountSpec): Promise<void>;
  protected abstract detach(spec: MountSpec): Promise<void>;

  /**
   * What a view whose process died may have left: a mount still on rootfs/
   * (in this mount namespace), a work dir the next mount refuses (a volatile
   * overlay's leaves a marker that makes the kernel insist on a fresh one).
   */
  protected async clearLeftovers(dirs: ViewDirs): Promise<void> {
    if (await isMountPoint(dirs.target)) await unmountPath(dirs.target);
    await rm(dirs.work, { recursive: true, force: true });
  }

  async prepare(request: PrepareRequest): Promise<View> {
    const dirs = viewDirs(request);
    await this.clearLeftovers(dirs);
    for (const dir of [dirs.upper, dirs.work, dirs.target]) await mkdir(dir, { recursive: true });
    const spec = this.describe(dirs);
    await this.attach(spec);
    return {
      driver: this.driver,
      capabilities: this.capabilities,
      mount: spec,
      rootfs: spec.target,
      upper: spec.upper,
      release: async () => {
        await this.detach(spec);
        await rm(spec.work, { recursive: true, force: true });
      },
    };
  }

  async view(lowers: string[], dir: string): Promise<View> {
    return throwaway(await this.prepare({ lowers, dir, volatile: true }), dir);
  }

  /**
   * Releases a view that `request` prepared in another process (a detached
   * container's view, released by conmon's exit command): as `release`,
   * from what the view left on disk.
   */
  async releaseLeft(request: PrepareRequest): Promise<void> {
    const spec = this.describe(viewDirs(request));
    await this.detach(spec);
    await rm(spec.work, { recursive: true, force: true });
  }
}

/** A view whose directory (upper dir included) goes at release. */
export function throwaway(view: View, dir: string): View {
  return {
    ...view,
    release: async () => {
      try {
        await view.release();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Prepares a view, lets `change` work on its root file system, releases it,
 * and returns the upper dir holding the changes: build steps that change the
 * image from ribo itself (COPY, WORKDIR).
 */
export async function changeInView(snapshotter: Snapshotter, request: PrepareRequest, change: (rootfs: string) => Promise<void>): Promise<string> {
  const view = await snapshotter.prepare(request);
  try {
    await change(view.rootfs);
  } finally {
    await view.release();
  }
  return view.upper;
}
