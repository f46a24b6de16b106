import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpackArchive, UnsafePathError } from '../../src/layer/index.js';
import { describeTree, streamOf, tarOf, TempDirs, type EntrySpec } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

/** A container root next to an "outside" dir holding a sentinel, to prove nothing escapes. */
function sandbox(): { root: string; outside: () => string[] } {
  const base = temp.make('unpack');
  const root = join(base, 'root');
  mkdirSync(join(base, 'outside'), { recursive: true });
  mkdirSync(root);
  writeFileSync(join(base, 'outside/sentinel'), 'untouched');
  return { root, outside: () => describeTree(join(base, 'outside')) };
}

async function unpack(specs: EntrySpec[] | Buffer, root: string, dest: string): Promise<void> {
  await unpackArchive(streamOf(Buffer.isBuffer(specs) ? specs : await tarOf(specs)), root, dest);
}

/** A PAX global extended header (typeflag g) carrying `records`, written by hand. */
function paxGlobalHeader(records: Record<string, string>): Buffer {
  let data = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = body.length + 1;
    while (`${length}${body}`.length !== length) length++;
    data += `${length}${body}`;
  }
  const header = Buffer.alloc(512);
  header.write('pax_global_header', 0, 'ascii');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii');
  header.write('g', 156, 'ascii');
  header.write('ustar\x0000', 257, 'ascii');
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  padded.write(data, 'ascii');
  return Buffer.concat([header, padded]);
}

describe('unpackArchive (ADD of a local archive)', () => {
  it('treats .wh. names as plain files, never as whiteouts or opaque markers', async () => {
    const { root } = sandbox();
    mkdirSync(join(root, 'dest/sub'), { recursive: true });
    writeFileSync(join(root, 'dest/keep'), 'kept');
    writeFileSync(join(root, 'dest/sub/old'), 'old');
    await unpack([{ path: '.wh.keep', type: 'file', text: 'plain' }, { path: 'sub/.wh..wh..opq', type: 'file', text: 'marker' }], root, '/dest');
    expect(readFileSync(join(root, 'dest/keep'), 'utf8')).toBe('kept');
    expect(readFileSync(join(root, 'dest/.wh.keep'), 'utf8')).toBe('plain');
    expect(readFileSync(join(root, 'dest/sub/old'), 'utf8')).toBe('old');
    expect(lstatSync(join(root, 'dest/sub/.wh..wh..opq')).isFile()).toBe(true);
  });

  it('leaves the destination directory as it is for "./" and "/" entries', async () => {
    const { root } = sandbox();
    mkdirSync(join(root, 'dest'), { mode: 0o755 });
    await unpack([{ path: './', type: 'directory', mode: 0o700 }, { path: '/', type: 'directory', mode: 0o711 }, { path: './a', type: 'file', text: 'a' }], root, '/dest');
    expect(statSync(join(root, 'dest')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(join(root, 'dest/a'), 'utf8')).toBe('a');
  });

  it('cleans entry paths: a leading / is relative to the destination, inner .. is folded, climbing out is refused', async () => {
    const { root, outside } = sandbox();
    mkdirSync(join(root, 'dest'));
    const before = outside();
    await unpack([{ path: '/abs.txt', type: 'file', text: 'abs' }, { path: 'x/../folded.txt', type: 'file', text: 'folded' }], root, '/dest');
    expect(readFileSync(join(root, 'dest/abs.txt'), 'utf8')).toBe('abs');
    expect(readFileSync(join(root, 'dest/folded.txt'), 'utf8')).toBe('folded');
    await expect(unpack([{ path: '../up.txt', type: 'file', text: 'up' }], root, '/dest')).rejects.toThrow(UnsafePathError);
    expect(outside()).toEqual(before);
    expect(readFileSync(join(root, '..', 'outside/sentinel'), 'utf8')).toBe('untouched');
  });

  it('follows symlinks of the image inside the root: absolute ones restart at it, .. stops at it', async () => {
    const { root, outside } = sandbox();
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc', join(root, 'symldir1'));
    symlinkSync('../../../../../outside', join(root, 'climb'));
    symlinkSync('/missing/dir', join(root, 'dangling'));
    const before = outside();
    await unpack([
      { path: 'symldir1/myfile', type: 'file', text: 'in etc' },
      { path: 'climb/sentinel', type: 'file', text: 'inside' },
      { path: 'dangling/made', type: 'file', text: 'made' },
    ], root, '/');
    expect(readFileSync(join(root, 'etc/myfile'), 'utf8')).toBe('in etc');
    expect(readlinkSync(join(root, 'symldir1'))).toBe('/etc');
    expect(readFileSync(join(root, 'outside/sentinel'), 'utf8')).toBe('inside');
    expect(readFileSync(join(root, 'missing/dir/made'), 'utf8')).toBe('made');
    expect(outside()).toEqual(before);
  });

  it('unpacks into a destination reached through a symlink, with hardlinks relative to the destination', async () => {
    const { root } = sandbox();
    mkdirSync(join(root, 'real'));
    symlinkSync('real', join(root, 'link'));
    await unpack([{ path: 'f', type: 'file', text: 'f' }, { path: 'h', type: 'hardlink', linkTarget: 'f' }], root, '/link');
    expect(statSync(join(root, 'real/h')).ino).toBe(statSync(join(root, 'real/f')).ino);
  });

  it('skips PAX global headers rather than applying their records to every entry', async () => {
    const { root } = sandbox();
    mkdirSync(join(root, 'dest'));
    const archive = Buffer.concat([paxGlobalHeader({ path: 'hijacked', comment: 'x' }), await tarOf([{ path: 'one', type: 'file', text: '1' }, { path: 'two', type: 'file', text: '2' }])]);
    await unpack(archive, root, '/dest');
    expect(describeTree(join(root, 'dest')).map((line) => line.split(' ')[0])).toEqual(['one', 'two']);
  });
});
