/**
 * Releasing a detached container's view from a process other than the one
 * that prepared it: conmon keeps the container, and its exit command
 * (`ribo container-cleanup`) releases the view. A kernel overlay or
 * fuse-overlayfs view is a mount of ribo's namespace (the fuse-overlayfs
 * daemon ends when it is unmounted); the copying driver's view is a copied
 * tree whose changes go to the upper dir, found by the record it keeps
 * beside the tree.
 */
import { rm } from 'node:fs/promises';
import { isMountPoint, unmountPath } from './mount.js';
import { CopySnapshotter } from './copy.js';
import { viewDirs, type DriverName, type PrepareRequest } from './snapshotter.js';

export async function releaseLeftView(driver: DriverName | undefined, request: PrepareRequest): Promise<void> {
  if (driver === 'copy') return new CopySnapshotter().releaseLeft(request);
  const dirs = viewDirs(request);
  if (await isMountPoint(dirs.target)) await unmountPath(dirs.target);
  await rm(dirs.work, { recursive: true, force: true });
}
