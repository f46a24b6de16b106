import { UnsafePathError } from './errors.js';

/**
 * Splits an archive path into components, refusing anything that could name a file
 * outside the root: absolute paths, `..` components and NUL bytes. `./etc/` and
 * `etc` both give ['etc']; the root itself gives [].
 */
export function archivePathParts(path: string, shownAs: string = path): string[] {
  if (path.startsWith('/')) throw new UnsafePathError(shownAs, 'it is an absolute path');
  if (path.includes('\0')) throw new UnsafePathError(shownAs, 'it contains a NUL byte');
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new UnsafePathError(shownAs, 'it contains a ".." component');
  return parts;
}
