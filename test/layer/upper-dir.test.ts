import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { clampTreeMtimes, UnsupportedUpperDirError, writeLayerFromUpperDir } from '../../src/layer/index.js';
import { lstatSync } from 'node:fs';
import { Collector, listTar, names, sha256, sh, TempDirs, gnuTarListing, type ListedEntry } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

async function layerOf(upper: string, options: { compression?: 'gzip' | 'none'; sourceDateEpoch?: number } = {}) {
  const out = new Collector();
  const digests = await writeLayerFromUpperDir(upper, out, { compression: options.compression ?? 'gzip', sourceDateEpoch: options.sourceDateEpoch });
  const blob = out.bytes();
  return { digests, blob, entries: await listTar(blob) };
}

function entry(entries: ListedEntry[], path: string): ListedEntry {
  const found = entries.find((candidate) => candidate.path === path);
  if (!found) throw new Error(`no entry ${path} in ${names(entries).join(', ')}`);
  return found;
}

describe('writeLayerFromUpperDir', () => {
  it('records a deleted file as a .wh. entry and a deleted dir the same way', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir etc && mknod etc/hostname c 0 0 && mknod olddir c 0 0');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['.wh.olddir', 'etc/', 'etc/.wh.hostname']);
    const whiteout = entry(entries, 'etc/.wh.hostname');
    expect(whiteout.type).toBe('file');
    expect(whiteout.size).toBe(0);
  });

  it('turns a kernel-overlay opaque dir into a .wh..wh..opq marker placed first in the dir', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir -p var/cache && touch var/cache/a var/cache/.hidden && setfattr -n user.overlay.opaque -v y var/cache');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['var/', 'var/cache/', 'var/cache/.wh..wh..opq', 'var/cache/.hidden', 'var/cache/a']);
    // The overlay-private marker itself never leaks into the layer.
    expect(entry(entries, 'var/cache/').xattrs.size).toBe(0);
  });

  it('understands the fuse-overlayfs encodings: .wh. files, .wh..wh..opq files and user.fuseoverlayfs.opaque', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir a b && touch a/.wh..wh..opq a/kept .wh.removed && setfattr -n user.fuseoverlayfs.opaque -v y b');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['.wh.removed', 'a/', 'a/.wh..wh..opq', 'a/kept', 'b/', 'b/.wh..wh..opq']);
  });

  it('writes a dir replaced by a file as a plain file, and a file replaced by a dir as a dir', async () => {
    const upper = temp.make();
    // In the upper dir a replacement is just the new object: overlay hides the lower one.
    sh(upper, 'echo data > was-a-dir && mkdir was-a-file && setfattr -n user.overlay.opaque -v y was-a-file && touch was-a-file/inside');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['was-a-dir', 'was-a-file/', 'was-a-file/.wh..wh..opq', 'was-a-file/inside']);
    expect(entry(entries, 'was-a-dir').data.toString()).toBe('data\n');
  });

  it('stores the second path of a hardlinked file as a link to the first, but never links whiteouts sharing an inode', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir bin && echo "#!/bin/sh" > bin/a && ln bin/a bin/b && ln bin/a c && mknod gone1 c 0 0 && ln gone1 gone2');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['.wh.gone1', '.wh.gone2', 'bin/', 'bin/a', 'bin/b', 'c']);
    expect(entry(entries, 'bin/a').type).toBe('file');
    expect(entry(entries, 'bin/b')).toMatchObject({ type: 'hardlink', linkTarget: 'bin/a', size: 0 });
    expect(entry(entries, 'c')).toMatchObject({ type: 'hardlink', linkTarget: 'bin/a' });
  });

  it('keeps symlinks, devices and fifos with their attributes', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir dev && ln -s /usr/share/zoneinfo/UTC localtime && ln -s ../x rel && mknod dev/null c 1 3 && mknod dev/loop0 b 7 0 && mkfifo -m 0620 dev/fifo');
    const { entries } = await layerOf(upper);
    expect(entry(entries, 'localtime')).toMatchObject({ type: 'symlink', linkTarget: '/usr/share/zoneinfo/UTC' });
    expect(entry(entries, 'rel')).toMatchObject({ type: 'symlink', linkTarget: '../x' });
    expect(entry(entries, 'dev/null')).toMatchObject({ type: 'char-device', devMajor: 1, devMinor: 3 });
    expect(entry(entries, 'dev/loop0')).toMatchObject({ type: 'block-device', devMajor: 7, devMinor: 0 });
    expect(entry(entries, 'dev/fifo')).toMatchObject({ type: 'fifo', mode: 0o620 });
  });

  it('keeps user xattrs and file capabilities but strips overlay-private ones', async () => {
    const upper = temp.make();
    sh(
      upper,
      [
        'touch ping plain && mkdir d',
        'setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= ping',
        'setfattr -n user.mime_type -v text/plain plain',
        'setfattr -n user.overlay.origin -v 0x00fb plain',
        'setfattr -n user.fuseoverlayfs.origin -v x plain',
        'setfattr -n user.comment -v dir d',
        'setfattr -n user.overlay.impure -v y d',
      ].join(' && '),
    );
    const { entries, blob } = await layerOf(upper, { compression: 'none' });
    expect([...entry(entries, 'ping').xattrs.keys()]).toEqual(['security.capability']);
    expect(entry(entries, 'ping').xattrs.get('security.capability')!.toString('base64')).toBe('AQAAAgAgAAAAAAAAAAAAAAAAAAA=');
    expect(Object.fromEntries([...entry(entries, 'plain').xattrs].map(([k, v]) => [k, v.toString()]))).toEqual({ 'user.mime_type': 'text/plain' });
    expect([...entry(entries, 'd/').xattrs.keys()]).toEqual(['user.comment']);
    // GNU tar sees the same attributes in the PAX headers.
    const archive = join(temp.make(), 'layer.tar');
    writeFileSync(archive, blob);
    const listing = gnuTarListing(archive).join('\n');
    expect(listing).toContain('user.mime_type');
    expect(listing).not.toContain('overlay');
  });

  it('keeps setuid/setgid/sticky bits and numeric ownership (uid 1000 shows in the tar)', async () => {
    const upper = temp.make();
    // chown clears setuid, so it comes first (as in a RUN step).
    sh(upper, 'mkdir -m 1777 tmp && echo x > su && chown 1000:1000 su && chmod 4755 su && echo y > sg && chmod 2711 sg && chown 1000:50 tmp');
    const { entries, blob } = await layerOf(upper, { compression: 'none' });
    expect(entry(entries, 'su')).toMatchObject({ mode: 0o4755, uid: 1000, gid: 1000 });
    expect(entry(entries, 'sg')).toMatchObject({ mode: 0o2711, uid: 0, gid: 0 });
    expect(entry(entries, 'tmp/')).toMatchObject({ mode: 0o1777, uid: 1000, gid: 50 });
    const archive = join(temp.make(), 'layer.tar');
    writeFileSync(archive, blob);
    const listing = gnuTarListing(archive);
    expect(listing.find((line) => line.endsWith(' su'))).toMatch(/^-rwsr-xr-x +1000\/1000 /);
    // No user or group names: only numbers are stored.
    expect(blob.includes(Buffer.from('root\0'))).toBe(false);
  });

  it('clamps mtimes to sourceDateEpoch and otherwise keeps them', async () => {
    const upper = temp.make();
    sh(upper, 'touch -d @2000000000 new && touch -d @1000000000 old');
    const clamped = await layerOf(upper, { sourceDateEpoch: 1500000000 });
    expect(entry(clamped.entries, 'new').mtime).toBe(1500000000);
    expect(entry(clamped.entries, 'old').mtime).toBe(1000000000);
    const unclamped = await layerOf(upper);
    expect(entry(unclamped.entries, 'new').mtime).toBe(2000000000);
  });

  it('clampTreeMtimes gives the tree on disk the mtimes the layer records', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir d && touch -d @2000000000.5 d/new && touch -d @1000000000.75 old && ln -s old link && touch -h -d @2100000000 link && touch -d @1900000000 d');
    const { entries } = await layerOf(upper, { sourceDateEpoch: 1500000000 });
    clampTreeMtimes(upper, 1500000000);
    for (const path of ['d', 'd/new', 'old', 'link']) {
      const recorded = entry(entries, lstatSync(join(upper, path)).isDirectory() ? `${path}/` : path).mtime;
      expect(lstatSync(join(upper, path)).mtimeMs).toBe(recorded * 1000);
    }
    expect(lstatSync(join(upper, 'old')).mtimeMs).toBe(1000000000 * 1000);
  });

  it('is reproducible: the same tree (and a copy of it) gives the same bytes and digests', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir -p a/b && echo 1 > a/b/f && head -c 200000 /dev/urandom > big && ln -s a l && mknod x c 0 0 && touch -d @1600000000 a/b/f a/b a big');
    const first = await layerOf(upper, { sourceDateEpoch: 1700000000 });
    const second = await layerOf(upper, { sourceDateEpoch: 1700000000 });
    expect(second.blob.equals(first.blob)).toBe(true);
    expect(second.digests).toEqual(first.digests);

    const copy = join(temp.make(), 'copy');
    sh(upper, `cp -a . ${copy}`); // new inodes, different readdir order
    const third = await layerOf(copy, { sourceDateEpoch: 1700000000 });
    expect(third.digests).toEqual(first.digests);
  });

  it('reports diffID over the tar and digest/size over the compressed bytes, with a fixed gzip header', async () => {
    const upper = temp.make();
    sh(upper, 'echo hello > f');
    const { digests, blob } = await layerOf(upper);
    expect(digests.size).toBe(blob.length);
    expect(digests.digest).toBe(sha256(blob));
    expect(digests.diffID).toBe(sha256(gunzipSync(blob)));
    expect(digests.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(blob.readUInt32LE(4)).toBe(0); // gzip mtime
    expect(blob[9]).toBe(0xff); // gzip OS: unknown, as Go writes it

    const plain = await layerOf(upper, { compression: 'none' });
    expect(plain.digests.digest).toBe(plain.digests.diffID);
    expect(plain.digests.diffID).toBe(digests.diffID);
    expect(plain.digests.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
  });

  it('sorts siblings by byte order and puts each dir before its contents', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir a a-b B && touch a/z a-b/y B/x Z _ é');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['B/', 'B/x', 'Z', '_', 'a/', 'a/z', 'a-b/', 'a-b/y', 'é']);
  });

  it('uses PAX headers for long paths and link targets that GNU tar reads back', async () => {
    const upper = temp.make();
    const long = `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(110)}`;
    sh(upper, `mkdir -p ${long} && touch ${long}/file && ln -s ${long}/file link`);
    const { entries, blob } = await layerOf(upper, { compression: 'none' });
    expect(entry(entries, `${long}/file`).type).toBe('file');
    expect(entry(entries, 'link').linkTarget).toBe(`${long}/file`);
    const archive = join(temp.make(), 'layer.tar');
    writeFileSync(archive, blob);
    expect(sh(temp.make(), `tar -tf ${archive}`).split('\n')).toContain(`${long}/file`);
  });

  it('refuses upper dirs that depend on lower layers (redirect_dir)', async () => {
    const upper = temp.make();
    sh(upper, 'mkdir moved && setfattr -n user.overlay.redirect -v /orig moved');
    await expect(layerOf(upper)).rejects.toBeInstanceOf(UnsupportedUpperDirError);
  });

  it('skips sockets, which tar cannot carry', async () => {
    const upper = temp.make();
    sh(upper, 'touch f && python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind(\'sock\')"');
    const { entries } = await layerOf(upper);
    expect(names(entries)).toEqual(['f']);
  });
});
