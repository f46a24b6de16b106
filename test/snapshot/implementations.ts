/** The three snapshotters as the conformance suite makes them (as root, in the host's mount namespace). */
import { execFileSync } from 'node:child_process';
import { CopySnapshotter, FuseOverlaySnapshotter, KernelOverlaySnapshotter, type DriverName, type Snapshotter } from '../../src/snapshot/index.js';

export const IMPLEMENTATIONS: readonly DriverName[] = ['overlay', 'fuse-overlayfs', 'copy'];

/**
 * A snapshotter of one implementation. The kernel overlay gets `userxattr`,
 * as in ribo's user namespace: the store's lower dirs mark opaque
 * directories with user.overlay.opaque.
 */
export function makeSnapshotter(driver: DriverName, emptyDir: string): Snapshotter {
  if (driver === 'overlay') return new KernelOverlaySnapshotter(true, emptyDir);
  if (driver === 'fuse-overlayfs') return new FuseOverlaySnapshotter(execFileSync('sh', ['-c', 'command -v fuse-overlayfs'], { encoding: 'utf8' }).trim(), emptyDir);
  return new CopySnapshotter();
}
