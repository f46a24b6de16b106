/**
 * Finds where each file of an (uncompressed) tar archive lies, reading only the
 * headers: an image archive's blobs are then streamed straight from their
 * offsets, in the order the manifests need them, whatever order the archive
 * has them in. Nothing but headers is read.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ArchiveError } from './errors.js';

const BLOCK = 512;

export interface TarIndexEntry {
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Byte offset of the content in the archive. */
  offset: number;
  size: number;
  linkTarget?: string;
}

function field(block: Buffer, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? length : end).toString('utf8');
}

function octal(block: Buffer, offset: number, length: number): number {
  const bytes = block.subarray(offset, offset + length);
  if (bytes[0]! & 0x80) {
    let value = 0;
    for (let i = 1; i < bytes.length; i++) value = value * 256 + bytes[i]!;
    return value;
  }
  const text = bytes.toString('latin1').replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = octal(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return stored === sum;
}

function paxValues(data: Buffer): Map<string, string> {
  const values = new Map<string, string>();
  let position = 0;
  while (position < data.length && data[position] !== 0) {
    const space = data.indexOf(0x20, position);
    const length = Number(data.subarray(position, space).toString('ascii'));
    if (space === -1 || !Number.isSafeInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, position + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) values.set(record.slice(0, equals), record.slice(equals + 1));
    position += length;
  }
  return values;
}

/** Archive paths are compared without "./" prefixes or trailing slashes. */
export function normalizeArchivePath(name: string): string {
  return path.posix.normalize(name.replace(/^(\.\/)+/, '')).replace(/\/+$/, '').replace(/^\/+/, '');
}

/** Reads the headers of `file` (an uncompressed tar) into a map from path to entry. */
export async function indexTarFile(file: string): Promise<Map<string, TarIndexEntry>> {
  const handle = await fs.open(file, 'r');
  try {
    const total = (await handle.stat()).size;
    const entries = new Map<string, TarIndexEntry>();
    const block = Buffer.alloc(BLOCK);
    let position = 0;
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    const readAt = async (buffer: Buffer, at: number): Promise<void> => {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
      if (bytesRead < buffer.length) throw new ArchiveError(`${file} is truncated: it ends inside a tar header or entry at byte ${at}. The archive was cut short while being written or copied; write or copy it again.`);
    };
    for (;;) {
      if (position + BLOCK > total) {
        throw new ArchiveError(`${file} is truncated: the tar end-of-archive marker is missing${entries.size === 0 ? ' (the file is empty or not a tar archive)' : ''}. Write or copy the archive again.`);
      }
      await readAt(block, position);
      if (block.every((byte) => byte === 0)) return entries;
      if (!checksumOk(block)) {
        throw new ArchiveError(`${file} is not a valid tar archive: the header at byte ${position} is damaged. Check that it is an image archive made by \`ribo save\`, \`docker save\`, \`podman save\` or \`skopeo copy\`, and that it was copied intact.`);
      }
      const typeFlag = String.fromCharCode(block[156]!);
      let size = octal(block, 124, 12);
      const contentOffset = position + BLOCK;
      const nextHeader = contentOffset + Math.ceil(size / BLOCK) * BLOCK;
      if (typeFlag === 'x' || typeFlag === 'g' || typeFlag === 'L' || typeFlag === 'K') {
        if (size > 16 * 1024 * 1024) throw new ArchiveError(`${file} is not a valid tar archive: a metadata header of ${size} bytes at byte ${position}.`);
        const data = Buffer.alloc(size);
        await readAt(data, contentOffset);
        if (typeFlag === 'x') pax = paxValues(data);
        else if (typeFlag === 'L') longName = field(data, 0, data.length);
        else if (typeFlag === 'K') longLink = field(data, 0, data.length);
        position = nextHeader;
        continue;
      }
      const prefix = block.subarray(257, 263).toString('latin1') === 'ustar\0' ? field(block, 345, 155) : '';
      let name = longName ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
      let linkTarget = longLink ?? field(block, 157, 100);
      if (pax.has('path')) name = pax.get('path')!;
      if (pax.has('linkpath')) linkTarget = pax.get('linkpath')!;
      if (pax.has('size')) size = Number(pax.get('size'));
      pax = new Map();
      longName = longLink = undefined;
      const type = typeFlag === '0' || typeFlag === '\0' || typeFlag === '7' ? 'file' : typeFlag === '5' ? 'directory' : typeFlag === '2' ? 'symlink' : typeFlag === '1' ? 'hardlink' : 'other';
      const contentSize = type === 'file' ? size : 0;
      if (contentOffset + contentSize > total) {
        throw new ArchiveError(`${file} is truncated: "${name}" should have ${contentSize} bytes but the file ends first. Write or copy the archive again.`);
      }
      entries.set(normalizeArchivePath(name), { type, offset: contentOffset, size: contentSize, ...(linkTarget ? { linkTarget } : {}) });
      position = contentOffset + Math.ceil(contentSize / BLOCK) * BLOCK;
    }
  } finally {
    await handle.close();
  }
}
