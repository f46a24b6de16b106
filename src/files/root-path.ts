import { lchown, lstat, mkdir, readlink, stat } from 'node:fs/promises';
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

export class NotADirectoryInImageError extends RiboError {}

/**
 * Creates the missing directories of a container path, owned by `owner`, and returns
 * the host path of the last one. Symlinks on the way are followed as the container
 * sees them (so `/link/..` is the parent of the link's target, not `/`), and a
 * dangling link gets its target created, as Docker's MkdirAll in a root does.
 * `what` starts the error message when a component is not a directory.
 */
export async function makeDirsInRoot(root: string, containerDir: string, owner: { uid: number; gid: number }, what: string, depth = 0): Promise<string> {
  let current = '';
  let host = root;
  for (const part of containerDir.split('/').filter((c) => c !== '' && c !== '.')) {
    current = `${current}/${part}`;
    host = await resolveInRoot(root, current);
    const info = await stat(host).catch(() => undefined);
    if (info?.isDirectory()) continue;
    if (info) throw new NotADirectoryInImageError(`${what}: ${current} exists in the image and is not a directory.`);
    try {
      await mkdir(host, { mode: 0o755 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const target = `/${path.relative(root, host)}`;
      // A dangling symlink whose target's parents are missing too: make those first.
      if (code === 'ENOENT' && depth < MAX_SYMLINKS) {
        await makeDirsInRoot(root, `/${path.relative(root, path.dirname(host))}`, owner, what, depth + 1);
        await mkdir(host, { mode: 0o755 });
      } else if (code === 'ENOTDIR' || code === 'ENOENT' || code === 'ELOOP') {
        const through = target !== current ? ` (symlinks lead it to ${target})` : '';
        throw new NotADirectoryInImageError(`${what}: ${current}${through} cannot be made a directory: ${code === 'ENOTDIR' ? 'a part of that path is a file, not a directory' : 'too many symbolic links'}. Fix the path or the symlink in the image.`);
      } else throw error;
    }
    await lchown(host, owner.uid, owner.gid);
  }
  return host;
}
