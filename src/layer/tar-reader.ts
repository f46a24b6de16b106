/**
 * Streaming tar reader for ustar, PAX (including SCHILY.xattr records and global
 * headers) and GNU long names. Entries are yielded one at a time with a content
 * stream that must be read before asking for the next entry; unread content is
 * skipped. Nothing but headers and PAX records is ever held in memory.
 */
import { CorruptArchiveError, TruncatedArchiveError, UnsupportedArchiveError } from './errors.js';
import { BLOCK_SIZE, paddingLength, PAX_XATTR_PREFIX, type TarEntryType, type TarHeader } from './tar-entry.js';

export interface TarEntry extends TarHeader {
  xattrs: Map<string, Buffer>;
  /** The entry's content (only regular files have any). Read it before advancing. */
  content: AsyncIterable<Buffer>;
}

export interface TarReaderOptions {
  /** Called with every chunk pulled from the source, in order (used to pass an archive through while validating it). */
  onSourceChunk?: (chunk: Buffer) => void;
  /** Skip PAX global headers instead of applying them to later entries (Go's archive/tar, and so Docker, skips them). */
  ignoreGlobalPax?: boolean;
}

/** Metadata records (PAX headers, GNU long names) larger than this are treated as corrupt. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/** Pulls exact byte counts out of a chunked source. */
class ByteSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer | null = null;
  private done = false;

  constructor(source: AsyncIterable<Buffer>, private readonly onChunk?: (chunk: Buffer) => void) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (!this.pending || this.pending.length === 0) {
      if (this.done) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      this.onChunk?.(chunk);
      this.pending = chunk;
    }
    return true;
  }

  /** Up to `max` bytes, or null at end of input. */
  async readSome(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const pending = this.pending!;
    if (pending.length <= max) {
      this.pending = null;
      return pending;
    }
    this.pending = pending.subarray(max);
    return pending.subarray(0, max);
  }

  /** Exactly `length` bytes; null if the input ends before the first byte. */
  async readExact(length: number, context: string): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < length) {
      const part = await this.readSome(length - have);
      if (!part) {
        if (have === 0) return null;
        throw new TruncatedArchiveError(context);
      }
      parts.push(part);
      have += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
  }

  async skip(length: number, context: string): Promise<void> {
    let left = length;
    while (left > 0) {
      const part = await this.readSome(Math.min(left, 1 << 20));
      if (!part) throw new TruncatedArchiveError(context);
      left -= part.length;
    }
  }

  async drain(): Promise<void> {
    while (await this.readSome(Number.MAX_SAFE_INTEGER)) {
      // discard trailing padding after the end-of-archive marker
    }
  }

  /** Stop reading early: lets the source release what it holds (a zstd process, a file). */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.iterator.return?.();
  }
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function parseNumber(block: Buffer, offset: number, length: number, field: string): number {
  const bytes = block.subarray(offset, offset + length);
  if (bytes[0]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as a marker.
    let value = BigInt(bytes[0]! & 0x7f);
    for (let i = 1; i < bytes.length; i++) value = (value << 8n) | BigInt(bytes[i]!);
    if (bytes[0]! & 0x40) value -= 1n << BigInt(bytes.length * 8 - 1);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new CorruptArchiveError(`${field} field is out of range`);
    }
    return Number(value);
  }
  const text = bytes.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new CorruptArchiveError(`${field} field "${text}" is not an octal number`);
  return parseInt(text, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

function verifyChecksum(block: Buffer): void {
  const stored = parseNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // Some old writers summed signed chars; accept both.
  if (stored !== unsigned && stored !== signed) throw new CorruptArchiveError('a header checksum does not match (this is not a tar archive, or it is damaged)');
}

type PaxValues = Map<string, Buffer>;

function parsePax(data: Buffer): PaxValues {
  const values: PaxValues = new Map();
  let position = 0;
  while (position < data.length) {
    if (data[position] === 0) break; // some writers pad the record block with NULs
    const space = data.indexOf(0x20, position);
    if (space === -1) throw new CorruptArchiveError('a PAX header record has no length');
    const lengthText = data.subarray(position, space).toString('ascii');
    const length = Number(lengthText);
    if (!/^[0-9]+$/.test(lengthText) || length <= space - position || position + length > data.length) {
      throw new CorruptArchiveError('a PAX header record has an invalid length');
    }
    const record = data.subarray(space + 1, position + length);
    if (record[record.length - 1] !== 0x0a) throw new CorruptArchiveError('a PAX header record does not end with a newline');
    const equals = record.indexOf(0x3d);
    if (equals === -1) throw new CorruptArchiveError('a PAX header record has no "="');
    values.set(record.subarray(0, equals).toString('utf8'), record.subarray(equals + 1, record.length - 1));
    position += length;
  }
  return values;
}

function paxNumber(value: Buffer, key: string): number {
  const text = value.toString('ascii');
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(text)) throw new CorruptArchiveError(`PAX ${key} "${text}" is not a number`);
  const number = Number(text);
  if (!Number.isFinite(number) || Math.abs(number) > Number.MAX_SAFE_INTEGER) throw new CorruptArchiveError(`PAX ${key} is out of range`);
  return number;
}

/** A PAX uid or gid: a whole number an id can be (GNU tar refuses others too, "invalid uid"). */
function paxId(value: Buffer, key: string, entryPath: string): number {
  const text = value.toString('ascii');
  const number = Number(text);
  if (!/^[0-9]+$/.test(text) || number > MAX_ID) {
    throw new CorruptArchiveError(`the PAX ${key} "${text.slice(0, 40)}" of entry "${entryPath}" is not a ${key === 'uid' ? 'user' : 'group'} id (a whole number from 0 to ${MAX_ID})`);
  }
  return number;
}

/** The largest uid or gid Linux has ((uid_t)-1 means "no change"). */
const MAX_ID = 2 ** 32 - 2;

function applyPax(header: TarHeader & { xattrs: Map<string, Buffer> }, values: PaxValues): void {
  for (const [key, value] of values) {
    if (key === 'path') header.path = value.toString('utf8');
    else if (key === 'linkpath') header.linkTarget = value.toString('utf8');
    else if (key === 'size') header.size = paxNumber(value, key);
    else if (key === 'uid') header.uid = paxId(value, key, (values.get('path')?.toString('utf8') ?? header.path) || '?');
    else if (key === 'gid') header.gid = paxId(value, key, (values.get('path')?.toString('utf8') ?? header.path) || '?');
    else if (key === 'mtime') header.mtime = paxNumber(value, key);
    else if (key.startsWith(PAX_XATTR_PREFIX)) header.xattrs.set(key.slice(PAX_XATTR_PREFIX.length), Buffer.from(value));
    else if (key.startsWith('GNU.sparse.')) throw new UnsupportedArchiveError(`The layer archive contains a GNU sparse file ("${header.path}"), which ribo does not support; re-create the archive without --sparse.`);
  }
}

/** Reads tar entries from a stream of (uncompressed) bytes. */
export async function* readTar(source: AsyncIterable<Buffer>, options: TarReaderOptions = {}): AsyncGenerator<TarEntry> {
  const input = new ByteSource(source, options.onSourceChunk);
  try {
    yield* entriesOf(input, options.ignoreGlobalPax ?? false);
  } finally {
    await input.close();
  }
}

async function* entriesOf(input: ByteSource, ignoreGlobalPax: boolean): AsyncGenerator<TarEntry> {
  const globalPax: PaxValues = new Map();
  let localPax: PaxValues | null = null;
  let longName: string | null = null;
  let longLink: string | null = null;
  let sawAnyHeader = false;

  const readMetadata = async (size: number, what: string): Promise<Buffer> => {
    if (size > MAX_METADATA_BYTES) throw new CorruptArchiveError(`a ${what} of ${size} bytes is implausibly large`);
    const data = (await input.readExact(size, `inside a ${what}`)) ?? Buffer.alloc(0);
    if (data.length < size) throw new TruncatedArchiveError(`inside a ${what}`);
    await input.skip(paddingLength(size), `inside a ${what}`);
    return data;
  };

  for (;;) {
    const block = await input.readExact(BLOCK_SIZE, 'inside a header');
    if (!block) {
      throw new TruncatedArchiveError(sawAnyHeader ? 'the end-of-archive marker is missing' : 'the input is empty');
    }
    if (isZeroBlock(block)) {
      // End of archive: one or two zero blocks, then optional padding.
      await input.drain();
      return;
    }
    sawAnyHeader = true;
    verifyChecksum(block);
    const typeFlag = String.fromCharCode(block[156]!);
    const size = parseNumber(block, 124, 12, 'size');

    if (typeFlag === 'x') {
      localPax = parsePax(await readMetadata(size, 'PAX header'));
      continue;
    }
    if (typeFlag === 'g') {
      const records = parsePax(await readMetadata(size, 'PAX global header'));
      if (!ignoreGlobalPax) for (const [key, value] of records) globalPax.set(key, value);
      continue;
    }
    if (typeFlag === 'L' || typeFlag === 'K') {
      const data = await readMetadata(size, 'GNU long name');
      const end = data.indexOf(0);
      const text = data.subarray(0, end === -1 ? data.length : end).toString('utf8');
      if (typeFlag === 'L') longName = text;
      else longLink = text;
      continue;
    }
    const type = TYPES[typeFlag];
    if (!type) {
      const shown = /[ -~]/.test(typeFlag) ? `"${typeFlag}"` : `0x${block[156]!.toString(16)}`;
      throw new UnsupportedArchiveError(`The layer archive contains an entry of tar type ${shown}, which ribo does not support.`);
    }

    const magic = block.subarray(257, 263).toString('latin1');
    const isUstar = magic === 'ustar\0';
    const prefix = isUstar ? cString(block, 345, 155) : '';
    const name = cString(block, 0, 100);
    const header: TarHeader & { xattrs: Map<string, Buffer> } = {
      path: prefix ? `${prefix}/${name}` : name,
      type,
      mode: parseNumber(block, 100, 8, 'mode') & 0o7777,
      uid: parseNumber(block, 108, 8, 'uid'),
      gid: parseNumber(block, 116, 8, 'gid'),
      size,
      mtime: parseNumber(block, 136, 12, 'mtime'),
      xattrs: new Map(),
    };
    const linkName = cString(block, 157, 100);
    if (linkName) header.linkTarget = linkName;
    if (type === 'char-device' || type === 'block-device') {
      header.devMajor = parseNumber(block, 329, 8, 'devmajor');
      header.devMinor = parseNumber(block, 337, 8, 'devminor');
    }
    if (longName !== null) header.path = longName;
    if (longLink !== null) header.linkTarget = longLink;
    applyPax(header, globalPax);
    if (localPax) applyPax(header, localPax);
    localPax = null;
    longName = null;
    longLink = null;

    if (header.path === '') throw new CorruptArchiveError('an entry has an empty name');
    if (!Number.isSafeInteger(header.size) || header.size < 0) throw new CorruptArchiveError(`entry "${header.path}" has an invalid size`);
    // Only regular files carry content: like GNU tar and Go, ignore the size field of
    // header-only types (links, devices, directories, fifos).
    const contentSize = type === 'file' ? header.size : 0;
    if (type !== 'file') header.size = 0;
    const skipAfter = paddingLength(contentSize);

    let remaining = contentSize;
    const entryPath = header.path;
    const content: AsyncIterable<Buffer> = {
      async *[Symbol.asyncIterator]() {
        while (remaining > 0) {
          const part = await input.readSome(remaining);
          if (!part) throw new TruncatedArchiveError(`inside the content of "${entryPath}"`);
          remaining -= part.length;
          yield part;
        }
      },
    };
    yield { ...header, content };
    if (remaining > 0) await input.skip(remaining, `inside the content of "${entryPath}"`);
    remaining = 0;
    await input.skip(skipAfter, `after "${entryPath}"`);
  }
}
