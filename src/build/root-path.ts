import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { RiboError } from '../errors.js';

export class SymlinkLoopError extends RiboError {}

const MAX_SYMLINKS = 40;

/**
 * Maps a path inside a container root to a host path, following symlinks as the
 * container would see them: absolute links restart at `root`, and `..` never
 * climbs above it. The last component is followed too when it is a link.
 */
export async function resolveInRoot(root: string, containerPath: string): Promise<string> {
  const pending = containerPath.split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = path.join(root, ...resolved, component);
    const info = await lstat(hostPath).catch(() => undefined);
    if (!info?.isSymbolicLink()) {
      resolved.push(component);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new SymlinkLoopError(`Too many symbolic links while resolving ${containerPath} in the image.`);
    const target = await readlink(hostPath);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
  }
  return path.join(root, ...resolved);
}
