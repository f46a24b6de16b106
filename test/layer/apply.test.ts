import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  applyLayer,
  CorruptArchiveError,
  EntryConflictError,
  TruncatedArchiveError,
  UnsafePathError,
} from '../../src/layer/index.js';
import { describeTree, run, sh, streamOf, tarOf, TempDirs, type EntrySpec } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

/** A target dir next to an "outside" dir holding a sentinel, to prove nothing escapes. */
function sandbox(): { target: string; outside: string; outsideState: () => string[] } {
  const base = temp.make('apply');
  const target = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(target);
  mkdirSync(outside);
  writeFileSync(join(outside, 'sentinel'), 'untouched');
  return { target, outside, outsideState: () => describeTree(outside) };
}

async function apply(specs: EntrySpec[] | Buffer, target: string, mode: 'lower' | 'merge' = 'merge', gzip = false): Promise<void> {
  const tar = Buffer.isBuffer(specs) ? specs : await tarOf(specs);
  await applyLayer(streamOf(gzip ? gzipSync(tar) : tar), target, { mode });
}

describe('applyLayer in merge mode', () => {
  it('deletes whited-out files and dirs of lower layers', async () => {
    const { target } = sandbox();
    sh(target, 'mkdir -p etc/dir/sub && touch etc/keep etc/gone etc/dir/sub/f');
    await apply([{ path: 'etc/', type: 'directory' }, { path: 'etc/.wh.gone', type: 'file' }, { path: 'etc/.wh.dir', type: 'file' }], target);
    expect(readdirSync(join(target, 'etc'))).toEqual(['keep']);
  });

  it('an opaque dir keeps only what this layer wrote, wherever the marker appears', async () => {
    const { target } = sandbox();
    sh(target, 'mkdir -p d/sub d/old && touch d/a d/sub/lower d/old/x');
    await apply(
      [
        { path: 'd/', type: 'directory' },
        { path: 'd/sub/new', type: 'file', text: 'n' },
        { path: 'd/.wh..wh..opq', type: 'file' },
        { path: 'd/b', type: 'file', text: 'b' },
      ],
      target,
    );
    expect(describeTree(join(target, 'd'), { mtimes: false }).map((line) => line.split(' ')[0])).toEqual(['b', 'sub', 'sub/new']);
  });

  it('replaces a dir by a file and a file by a dir', async () => {
    const { target } = sandbox();
    sh(target, 'mkdir -p becomes-file/deep && touch becomes-file/deep/x becomes-dir');
    await apply([{ path: 'becomes-file', type: 'file', text: 'now a file' }, { path: 'becomes-dir/', type: 'directory' }, { path: 'becomes-dir/in', type: 'file' }], target);
    expect(readFileSync(join(target, 'becomes-file'), 'utf8')).toBe('now a file');
    expect(lstatSync(join(target, 'becomes-dir')).isDirectory()).toBe(true);
    expect(readdirSync(join(target, 'becomes-dir'))).toEqual(['in']);
  });

  it('ignores a whiteout for something the same layer wrote', async () => {
    const { target } = sandbox();
    await apply([{ path: 'f', type: 'file', text: 'mine' }, { path: '.wh.f', type: 'file' }], target);
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('mine');
  });

  it('sets ownership, modes with setuid, mtimes, hardlinks, devices, fifos and xattrs', async () => {
    const { target } = sandbox();
    await apply(
      [
        { path: 'bin/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, mtime: 1500000000 },
        { path: 'bin/su', type: 'file', text: 'x', mode: 0o4755, uid: 1000, gid: 1001, mtime: 1400000000, xattrs: new Map([['user.a', Buffer.from('1')]]) },
        { path: 'bin/ping', type: 'file', text: 'p', xattrs: new Map([['security.capability', Buffer.from('AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'base64')]]) },
        { path: 'bin/su2', type: 'hardlink', linkTarget: 'bin/su' },
        { path: 'null', type: 'char-device', devMajor: 1, devMinor: 3, mode: 0o666 },
        { path: 'pipe', type: 'fifo', mode: 0o600 },
        { path: 'link', type: 'symlink', linkTarget: '/bin/su', uid: 7, gid: 7 },
        { path: 'private', type: 'file', xattrs: new Map([['user.overlay.opaque', Buffer.from('y')], ['trusted.overlay.redirect', Buffer.from('/x')]]) },
      ],
      target,
    );
    const su = lstatSync(join(target, 'bin/su'));
    expect({ mode: su.mode & 0o7777, uid: su.uid, gid: su.gid, mtime: su.mtimeMs / 1000, nlink: su.nlink }).toEqual({ mode: 0o4755, uid: 1000, gid: 1001, mtime: 1400000000, nlink: 2 });
    expect(lstatSync(join(target, 'bin/su2')).ino).toBe(su.ino);
    const bin = lstatSync(join(target, 'bin'));
    expect({ mode: bin.mode & 0o7777, uid: bin.uid, mtime: bin.mtimeMs / 1000 }).toEqual({ mode: 0o750, uid: 1000, mtime: 1500000000 });
    const dev = lstatSync(join(target, 'null'));
    expect(dev.isCharacterDevice() && dev.rdev).toBe(0x103);
    expect(dev.mode & 0o7777).toBe(0o666);
    expect(lstatSync(join(target, 'pipe')).isFIFO()).toBe(true);
    expect(readlinkSync(join(target, 'link'))).toBe('/bin/su');
    expect(lstatSync(join(target, 'link')).uid).toBe(7);
    expect(run('getfattr', '-n', 'user.a', '--only-values', join(target, 'bin/su'))).toBe('1');
    expect(run('getcap', join(target, 'bin/ping')).trim()).toMatch(/cap_net_raw[=+]ep/);
    // Overlay-private attributes from an archive are dropped: they would change how overlay reads the dir.
    expect(run('getfattr', '-d', '-m', '-', join(target, 'private'))).toBe('');
  });

  it('writes through a relative symlink that stays inside the root', async () => {
    const { target } = sandbox();
    sh(target, 'mkdir -p usr/lib && ln -s usr/lib lib');
    await apply([{ path: 'lib/libc.so', type: 'file', text: 'elf' }], target);
    expect(readFileSync(join(target, 'usr/lib/libc.so'), 'utf8')).toBe('elf');
    expect(lstatSync(join(target, 'lib')).isSymbolicLink()).toBe(true);
  });

  it('reads gzip layers as well as plain ones', async () => {
    const { target } = sandbox();
    await apply([{ path: 'hello', type: 'file', text: 'gz' }], target, 'merge', true);
    expect(readFileSync(join(target, 'hello'), 'utf8')).toBe('gz');
  });
});

describe('applyLayer in lower mode', () => {
  it('turns whiteouts into 0/0 char devices and opaque markers into user.overlay.opaque', async () => {
    const { target } = sandbox();
    await apply(
      [
        { path: '.wh.a', type: 'file' },
        { path: 'etc/', type: 'directory' },
        { path: 'etc/.wh..wh..opq', type: 'file' },
        { path: 'etc/.wh.b', type: 'file' },
        { path: 'etc/c', type: 'file', text: 'c' },
      ],
      target,
      'lower',
    );
    expect(readdirSync(target).sort()).toEqual(['a', 'etc']);
    for (const path of ['a', 'etc/b']) {
      const stats = lstatSync(join(target, path));
      expect(stats.isCharacterDevice() && stats.rdev === 0).toBe(true);
    }
    expect(run('getfattr', '-n', 'user.overlay.opaque', '--only-values', join(target, 'etc'))).toBe('y');
    expect(run('getfattr', '-d', '-m', '-', join(target, 'etc/c'))).toBe('');
  });
});

describe('applyLayer refuses hostile archives', () => {
  const cases: Array<[string, EntrySpec[], new (...args: never[]) => Error]> = [
    ['a ../ path', [{ path: '../outside/pwned', type: 'file', text: 'x' }], UnsafePathError],
    ['a ../ in the middle', [{ path: 'a/../../outside/pwned', type: 'file', text: 'x' }], UnsafePathError],
    ['an absolute path', [{ path: '/tmp/ribo-pwned', type: 'file', text: 'x' }], UnsafePathError],
    ['a write through a symlink to ..', [{ path: 'evil', type: 'symlink', linkTarget: '../outside' }, { path: 'evil/pwned', type: 'file', text: 'x' }], UnsafePathError],
    ['a write through a chain of symlinks', [{ path: 'a', type: 'symlink', linkTarget: 'b/..' }, { path: 'b', type: 'symlink', linkTarget: '..' }, { path: 'a/outside/pwned', type: 'file' }], UnsafePathError],
    ['a whiteout through a symlink', [{ path: 'evil', type: 'symlink', linkTarget: '../outside' }, { path: 'evil/.wh.sentinel', type: 'file' }], UnsafePathError],
    ['an opaque marker through a symlink', [{ path: 'evil', type: 'symlink', linkTarget: '../outside' }, { path: 'evil/.wh..wh..opq', type: 'file' }], UnsafePathError],
    ['a hardlink to ../', [{ path: 'h', type: 'hardlink', linkTarget: '../outside/sentinel' }], UnsafePathError],
    ['a hardlink to an absolute path', [{ path: 'h', type: 'hardlink', linkTarget: '/etc/passwd' }], UnsafePathError],
    ['a hardlink through a symlink', [{ path: 'evil', type: 'symlink', linkTarget: '../outside' }, { path: 'h', type: 'hardlink', linkTarget: 'evil/sentinel' }], UnsafePathError],
    ['a symlink loop', [{ path: 'a', type: 'symlink', linkTarget: 'b' }, { path: 'b', type: 'symlink', linkTarget: 'a' }, { path: 'a/x', type: 'file' }], UnsafePathError],
  ];

  it.each(cases)('%s', async (_name, specs, errorType) => {
    const { target, outside, outsideState } = sandbox();
    const before = outsideState();
    await expect(apply(specs, target)).rejects.toBeInstanceOf(errorType);
    expect(outsideState()).toEqual(before);
    expect(existsSync(join(outside, 'pwned'))).toBe(false);
    expect(existsSync('/tmp/ribo-pwned')).toBe(false);
  });

  it('a write through an absolute symlink, even one that would exist inside the root', async () => {
    const { target, outside, outsideState } = sandbox();
    const before = outsideState();
    const specs: EntrySpec[] = [{ path: 'evil', type: 'symlink', linkTarget: outside }, { path: 'evil/pwned', type: 'file', text: 'x' }];
    await expect(apply(specs, target)).rejects.toBeInstanceOf(UnsafePathError);
    await expect(apply(specs, target, 'lower')).rejects.toThrow(/absolute/);
    expect(outsideState()).toEqual(before);
  });

  it('a symlink replaced by a directory entry is replaced, not followed', async () => {
    const { target, outside, outsideState } = sandbox();
    const before = outsideState();
    await apply([{ path: 'd', type: 'symlink', linkTarget: outside }, { path: 'd/', type: 'directory', mode: 0o700 }, { path: 'd/f', type: 'file' }], target);
    expect(lstatSync(join(target, 'd')).isDirectory()).toBe(true);
    expect(outsideState()).toEqual(before);
  });

  it('a symlink as the last component is replaced, never written through', async () => {
    const { target, outside, outsideState } = sandbox();
    const before = outsideState();
    await apply([{ path: 'f', type: 'symlink', linkTarget: join(outside, 'sentinel') }, { path: 'f', type: 'file', text: 'new' }], target);
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('new');
    expect(outsideState()).toEqual(before);
  });

  it('a hardlink to a missing file', async () => {
    const { target } = sandbox();
    await expect(apply([{ path: 'h', type: 'hardlink', linkTarget: 'nope' }], target)).rejects.toBeInstanceOf(EntryConflictError);
  });

  it('a truncated archive, plain or gzip', async () => {
    const tar = await tarOf([{ path: 'big', type: 'file', text: 'x'.repeat(5000) }]);
    const { target } = sandbox();
    await expect(apply(tar.subarray(0, 2000), target)).rejects.toBeInstanceOf(TruncatedArchiveError);
    await expect(apply(tar.subarray(0, 512 * 3), target)).rejects.toBeInstanceOf(TruncatedArchiveError);
    const gz = gzipSync(tar);
    await expect(applyLayer(streamOf(gz.subarray(0, gz.length - 10)), target, { mode: 'merge' })).rejects.toBeInstanceOf(CorruptArchiveError);
  });

  it('corrupt gzip data and non-tar input', async () => {
    const tar = await tarOf([{ path: 'f', type: 'file', text: 'hello world '.repeat(100) }]);
    const gz = gzipSync(tar);
    for (let i = 20; i < 40; i++) gz[i] ^= 0x5a;
    const { target, outsideState } = sandbox();
    const before = outsideState();
    await expect(applyLayer(streamOf(gz), target, { mode: 'merge' })).rejects.toBeInstanceOf(CorruptArchiveError);
    await expect(applyLayer(streamOf(Buffer.from('this is not a tar archive'.repeat(40))), target, { mode: 'merge' })).rejects.toBeInstanceOf(CorruptArchiveError);
    expect(outsideState()).toEqual(before);
  });
});
