/** The two overlay snapshotters: the kernel's overlay file system and fuse-overlayfs. */
import { mkdir } from 'node:fs/promises';
import { fuseOverlayMount, kernelOverlayMount, performMount, unmountPath, type MountSpec, type ViewDirs } from './mount.js';
import { BaseSnapshotter } from './snapshotter.js';

export class KernelOverlaySnapshotter extends BaseSnapshotter {
  readonly driver = 'overlay' as const;

  /** userxattr is needed inside a user namespace; real root uses trusted.* xattrs. */
  constructor(private readonly userXattr: boolean, private readonly emptyDir: string) {
    super();
  }

  protected describe(dirs: ViewDirs): MountSpec {
    return kernelOverlayMount(dirs, { userXattr: this.userXattr, emptyDir: this.emptyDir });
  }

  protected async attach(spec: MountSpec): Promise<void> {
    await mkdir(this.emptyDir, { recursive: true });
    await performMount(spec);
  }

  protected detach(spec: MountSpec): Promise<void> {
    return unmountPath(spec.target);
  }
}

export class FuseOverlaySnapshotter extends BaseSnapshotter {
  readonly driver = 'fuse-overlayfs' as const;

  constructor(private readonly binary: string, private readonly emptyDir: string) {
    super();
  }

  protected describe(dirs: ViewDirs): MountSpec {
    return fuseOverlayMount(dirs, { emptyDir: this.emptyDir });
  }

  protected async attach(spec: MountSpec): Promise<void> {
    await mkdir(this.emptyDir, { recursive: true });
    await performMount(spec, this.binary);
  }

  protected detach(spec: MountSpec): Promise<void> {
    return unmountPath(spec.target);
  }
}
