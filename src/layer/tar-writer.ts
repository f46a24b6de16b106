/**
 * PAX tar writer. Every entry gets a ustar header; a PAX extended header precedes it
 * only when a value does not fit ustar (long or non-ASCII paths, huge sizes or ids)
 * or when the entry has xattrs. User and group names are always empty and every
 * field is derived from the TarHeader alone, so equal input gives equal bytes.
 */
import { SourceChangedError, LayerError } from './errors.js';
import { BLOCK_SIZE, paddingLength, PAX_XATTR_PREFIX, TYPE_FLAG, type TarHeader } from './tar-entry.js';

export interface TarWriterEntry extends TarHeader {
  /** Produces exactly `size` bytes for regular files; called once, when the entry is written. */
  content?: () => Iterable<Buffer> | AsyncIterable<Buffer>;
}

/** Two zero blocks mark the end of a tar archive. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK_SIZE);

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
const PAX_HEADER_NAME = 'PaxHeader';
/** Small buffers are gathered into chunks of about this size before they are handed on. */
const BATCH_BYTES = 64 * 1024;

function isAscii(text: string): boolean {
  return /^[\x01-\x7f]*$/.test(text);
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8).padStart(width - 1, '0');
  block.write(digits, offset, width - 1, 'ascii');
  block[offset + width - 1] = 0;
}

/** Splits a path into ustar prefix (<=155) and name (<=100), or returns null if it cannot. */
function splitUstarPath(path: string): { prefix: string; name: string } | null {
  if (!isAscii(path)) return null;
  if (path.length <= 100) return { prefix: '', name: path };
  // Try the split point that leaves the longest prefix that still fits.
  for (let i = Math.min(path.length - 2, 155); i > 0; i--) {
    if (path[i] !== '/') continue;
    const name = path.slice(i + 1);
    if (name.length > 100) return null;
    return { prefix: path.slice(0, i), name };
  }
  return null;
}

function paxRecord(key: string, value: Buffer): Buffer {
  if (key.includes('=')) throw new LayerError(`Cannot store xattr or PAX key "${key}" in a tar archive: it contains "=".`);
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length prefix counts its own digits; grow until it is self-consistent.
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), 'ascii'), body]);
}

function ustarBlock(fields: {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeFlag: string;
  linkName: string;
  devMajor: number;
  devMinor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  Buffer.from(fields.name, 'utf8').copy(block, 0, 0, 100);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.write(fields.typeFlag, 156, 1, 'ascii');
  Buffer.from(fields.linkName, 'utf8').copy(block, 157, 0, 100);
  block.write('ustar\x0000', 257, 8, 'ascii');
  writeOctal(block, 329, 8, fields.devMajor);
  writeOctal(block, 337, 8, fields.devMinor);
  Buffer.from(fields.prefix, 'utf8').copy(block, 345, 0, 155);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\x00 ', 148, 8, 'ascii');
  return block;
}

function assertHeaderValues(header: TarHeader): void {
  for (const [field, value] of [['uid', header.uid], ['gid', header.gid], ['size', header.size], ['mtime', header.mtime]] as const) {
    if (!Number.isSafeInteger(value) || (field !== 'mtime' && value < 0)) {
      throw new LayerError(`Cannot write tar entry "${header.path}": ${field} ${value} is not a valid whole number.`);
    }
  }
  for (const value of [header.devMajor ?? 0, header.devMinor ?? 0]) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_OCTAL_7) {
      throw new LayerError(`Cannot write tar entry "${header.path}": device number ${value} does not fit a tar header.`);
    }
  }
}

/** Encodes one entry's header: an optional PAX extended header followed by the ustar header. */
export function encodeTarHeader(header: TarHeader): Buffer {
  assertHeaderValues(header);
  const size = header.type === 'file' ? header.size : 0;
  const pax: Buffer[] = [];
  const split = splitUstarPath(header.path);
  if (!split) pax.push(paxRecord('path', Buffer.from(header.path, 'utf8')));
  const linkName = header.linkTarget ?? '';
  const linkFits = isAscii(linkName) && linkName.length <= 100;
  if (!linkFits) pax.push(paxRecord('linkpath', Buffer.from(linkName, 'utf8')));
  if (size > MAX_OCTAL_11) pax.push(paxRecord('size', Buffer.from(String(size))));
  if (header.uid > MAX_OCTAL_7) pax.push(paxRecord('uid', Buffer.from(String(header.uid))));
  if (header.gid > MAX_OCTAL_7) pax.push(paxRecord('gid', Buffer.from(String(header.gid))));
  const mtimeFits = header.mtime >= 0 && header.mtime <= MAX_OCTAL_11;
  if (!mtimeFits) pax.push(paxRecord('mtime', Buffer.from(String(header.mtime))));
  if (header.xattrs) {
    const names = [...header.xattrs.keys()].sort();
    for (const name of names) pax.push(paxRecord(PAX_XATTR_PREFIX + name, header.xattrs.get(name)!));
  }

  const ustar = ustarBlock({
    name: split ? split.name : header.path,
    prefix: split ? split.prefix : '',
    mode: header.mode & 0o7777,
    uid: Math.min(header.uid, MAX_OCTAL_7),
    gid: Math.min(header.gid, MAX_OCTAL_7),
    size: size > MAX_OCTAL_11 ? 0 : size,
    mtime: mtimeFits ? header.mtime : 0,
    typeFlag: TYPE_FLAG[header.type],
    linkName,
    devMajor: header.devMajor ?? 0,
    devMinor: header.devMinor ?? 0,
  });
  if (pax.length === 0) return ustar;

  const paxBody = Buffer.concat(pax);
  const paxHeader = ustarBlock({
    name: PAX_HEADER_NAME,
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: paxBody.length,
    mtime: 0,
    typeFlag: 'x',
    linkName: '',
    devMajor: 0,
    devMinor: 0,
  });
  return Buffer.concat([paxHeader, paxBody, Buffer.alloc(paddingLength(paxBody.length)), ustar]);
}

/**
 * Streams a tar archive: headers, content, padding and the end-of-archive marker.
 * Content is pulled from each entry only when that entry is written, so memory use
 * does not depend on file sizes.
 */
export async function* tarChunks(entries: Iterable<TarWriterEntry> | AsyncIterable<TarWriterEntry>): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let batched = 0;
  const take = (): Buffer => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };

  for await (const entry of entries) {
    batch.push(encodeTarHeader(entry));
    batched += batch[batch.length - 1]!.length;
    if (entry.type === 'file' && entry.size > 0) {
      if (!entry.content) throw new LayerError(`Tar entry "${entry.path}" has size ${entry.size} but no content.`);
      let written = 0;
      for await (const chunk of entry.content()) {
        written += chunk.length;
        if (written > entry.size) throw new SourceChangedError(entry.path);
        if (chunk.length >= BATCH_BYTES) {
          if (batched > 0) yield take();
          yield chunk;
        } else {
          batch.push(chunk);
          batched += chunk.length;
          if (batched >= BATCH_BYTES) yield take();
        }
      }
      if (written !== entry.size) throw new SourceChangedError(entry.path);
      const padding = paddingLength(entry.size);
      if (padding > 0) {
        batch.push(Buffer.alloc(padding));
        batched += padding;
      }
    }
    if (batched >= BATCH_BYTES) yield take();
  }
  batch.push(END_OF_ARCHIVE);
  batched += END_OF_ARCHIVE.length;
  yield take();
}
