/** What a tar entry describes, independent of how it is encoded. */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo';

export interface TarHeader {
  /** Path as stored in the archive; ribo writes `etc/passwd` and `etc/` for directories. */
  path: string;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Content length; only regular files have content. */
  size: number;
  /** Seconds since the epoch; the reader may return fractions from PAX headers. */
  mtime: number;
  /** Symlink target, or the archive path a hardlink points to. */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes, stored as SCHILY.xattr.NAME PAX records. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

export const BLOCK_SIZE = 512;

/** Bytes of zero padding that follow `size` bytes of content. */
export function paddingLength(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? 0 : BLOCK_SIZE - rest;
}

export const TYPE_FLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

export const PAX_XATTR_PREFIX = 'SCHILY.xattr.';
