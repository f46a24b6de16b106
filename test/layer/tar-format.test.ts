import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptArchiveError, TruncatedArchiveError, UnsupportedArchiveError, readTar } from '../../src/layer/index.js';
import { listTar, run, sh, streamOf, tarOf, TempDirs } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function drain(archive: Buffer): Promise<void> {
  for await (const entry of readTar(streamOf(archive, 100))) for await (const _ of entry.content) void _;
}

describe('tar writer', () => {
  it('writes ustar headers with numeric ids only, and GNU tar extracts the same values', async () => {
    const archive = await tarOf([
      { path: 'dir/', type: 'directory', mode: 0o2755, uid: 1000, gid: 100, mtime: 1234567890 },
      { path: 'dir/file', type: 'file', text: 'content', mode: 0o4711, uid: 3000000, gid: 5, mtime: 1234567890 },
      { path: `dir/${'ü'.repeat(40)}`, type: 'file', text: 'unicode' },
      { path: 'dir/x', type: 'file', text: 'x', xattrs: new Map([['user.bin', Buffer.from([0, 1, 2, 0x3d, 0x0a, 255])]]) },
    ]);
    expect(archive.length % 512).toBe(0);
    // First header: plain ustar, empty uname/gname.
    expect(archive.subarray(257, 265).toString('latin1')).toBe('ustar\x0000');
    expect(archive.subarray(265, 329).every((byte) => byte === 0)).toBe(true);

    const entries = await listTar(archive);
    expect(entries.map((e) => [e.path, e.mode, e.uid, e.gid])).toEqual([
      ['dir/', 0o2755, 1000, 100],
      ['dir/file', 0o4711, 3000000, 5],
      [`dir/${'ü'.repeat(40)}`, 0o644, 0, 0],
      ['dir/x', 0o644, 0, 0],
    ]);
    expect(entries[3]!.xattrs.get('user.bin')).toEqual(Buffer.from([0, 1, 2, 0x3d, 0x0a, 255]));

    const dir = temp.make('gnutar');
    writeFileSync(join(dir, 'a.tar'), archive);
    mkdirSync(join(dir, 'out'));
    run('tar', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', join(dir, 'a.tar'), '-C', join(dir, 'out'));
    expect(sh(join(dir, 'out'), 'stat -c "%n %a %u %g %Y" dir/file dir')).toBe('dir/file 4711 3000000 5 1234567890\ndir 2755 1000 100 1234567890\n');
    expect(sh(join(dir, 'out'), 'getfattr -n user.bin -e hex dir/x')).toContain('user.bin=0x0001023d0aff');
    expect(sh(join(dir, 'out'), 'cat dir/ü*')).toBe('unicode');
  });
});

describe('tar reader', () => {
  it('reads what GNU tar writes in gnu and pax formats, including long names and xattrs', async () => {
    const dir = temp.make('gnuread');
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    const long = `${'a'.repeat(120)}/${'b'.repeat(120)}`;
    sh(tree, `mkdir -p ${long} && echo deep > ${long}/file && ln -s ${long}/file link && ln ${long}/file hard && setfattr -n user.k -v v hard && mkfifo p`);
    for (const format of ['gnu', 'pax']) {
      sh(dir, `tar --format=${format} --xattrs --sort=name -cf ${format}.tar -C tree .`);
      const entries = await listTar(readFileSync(join(dir, `${format}.tar`)));
      const byPath = new Map(entries.map((entry) => [entry.path, entry]));
      expect(byPath.get('./link')).toMatchObject({ type: 'symlink', linkTarget: `${long}/file` });
      expect(byPath.get('./p')?.type).toBe('fifo');
      const hard = byPath.get('./hard')!;
      const file = byPath.get(`./${long}/file`)!;
      // GNU tar archives whichever name it meets first as the file, the other as a link.
      const [stored, link] = hard.type === 'file' ? [hard, file] : [file, hard];
      expect(stored.data.toString()).toBe('deep\n');
      expect(link.type).toBe('hardlink');
      if (format === 'pax') expect(stored.xattrs.get('user.k')?.toString()).toBe('v');
    }
  });

  it('raises typed errors for truncated and corrupt archives', async () => {
    const archive = await tarOf([{ path: 'f', type: 'file', text: 'x'.repeat(1000) }]);
    await expect(drain(archive.subarray(0, 300))).rejects.toBeInstanceOf(TruncatedArchiveError);
    await expect(drain(archive.subarray(0, 1000))).rejects.toBeInstanceOf(TruncatedArchiveError);
    // Cut exactly after the content: the end-of-archive marker is missing.
    await expect(drain(archive.subarray(0, 512 * 3))).rejects.toThrow(/end-of-archive/);
    await expect(drain(Buffer.alloc(0))).rejects.toBeInstanceOf(TruncatedArchiveError);
    const badChecksum = Buffer.from(archive);
    badChecksum[0] = 0x67;
    await expect(drain(badChecksum)).rejects.toBeInstanceOf(CorruptArchiveError);
    const badPax = await tarOf([{ path: 'x'.repeat(200), type: 'file' }]);
    badPax.write('99', 512, 'latin1'); // PAX record length now points past the record block
    await expect(drain(badPax)).rejects.toBeInstanceOf(CorruptArchiveError);
  });

  it('refuses sparse files rather than extracting them wrongly', async () => {
    const dir = temp.make('sparse');
    sh(dir, 'truncate -s 10M sparse && printf x >> sparse && tar --format=pax --sparse -cf s.tar sparse');
    await expect(drain(readFileSync(join(dir, 's.tar')))).rejects.toBeInstanceOf(UnsupportedArchiveError);
  });

  it('skips content that the caller does not read', async () => {
    const archive = await tarOf([
      { path: 'a', type: 'file', text: 'A'.repeat(3000) },
      { path: 'b', type: 'file', text: 'B' },
    ]);
    const seen: string[] = [];
    for await (const entry of readTar(streamOf(archive, 333))) seen.push(entry.path);
    expect(seen).toEqual(['a', 'b']);
  });
});
