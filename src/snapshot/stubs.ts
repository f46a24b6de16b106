import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** fuse-overlayfs marks directories it creates as opaque with these two entries. */
const OPAQUE_MARKERS = new Set(['.wh..wh..opq', '.wh..opq']);

async function onlyOpaqueMarkers(dir: string): Promise<boolean> {
  const entries = await readdir(dir);
  return entries.every((name) => OPAQUE_MARKERS.has(name));
}

/**
 * Mount points the OCI runtime created in a view because the image lacked
 * them (`/proc`, `/etc/hosts`, RUN --mount targets) are not the container's
 * changes: removes them (and the parents made for them) from a released
 * view's upper dir, but only while they are still empty.
 */
export async function dropRuntimeStubs(upper: string, stubs: readonly string[]): Promise<void> {
  // Deepest first, so etc/hosts goes before etc.
  const byDepth = [...stubs].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const rel of byDepth) {
    const p = path.join(upper, rel);
    const info = await lstat(p).catch(() => undefined);
    if (info?.isDirectory() && (await onlyOpaqueMarkers(p))) await rm(p, { recursive: true });
    else if (info?.isFile() && info.size === 0) await rm(p);
  }
}
