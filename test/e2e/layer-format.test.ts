/**
 * What real builds put in their layers, as an unprivileged user with each overlay
 * driver (and as root for device nodes): every whiteout and opaque case, hardlinks,
 * symlinks, fifos, xattrs, file capabilities and setuid/setgid/sticky bits, checked
 * in the layer tars (read by GNU tar) and in what `ribo run` shows.
 */
import { execa } from 'execa';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startRegistry } from '../setup/registry.js';
import { blobPath, makeContext, makeStore, readImage, removeStore, ribo, riboOk, type DriverName, type RiboOptions } from './harness.js';

/** Host tools the busybox image lacks, copied in with the shared libraries they load. */
const HOST_TOOLS = ['setfattr', 'getfattr', 'setcap', 'getcap'];

async function copyHostTools(context: string): Promise<void> {
  const files = new Set<string>();
  for (const tool of HOST_TOOLS) {
    const binary = (await execa('sh', ['-c', `PATH=$PATH:/usr/sbin:/sbin command -v ${tool}`])).stdout.trim();
    await mkdir(path.join(context, 'tools/opt/tools'), { recursive: true });
    await copyFile(binary, path.join(context, 'tools/opt/tools', tool));
    const { stdout } = await execa('ldd', [binary]);
    for (const match of stdout.matchAll(/(\/\S+\.so[.\d]*)/g)) files.add(match[1]!);
  }
  for (const file of files) {
    await mkdir(path.dirname(path.join(context, 'tools', file)), { recursive: true });
    await copyFile(file, path.join(context, 'tools', file));
  }
  await execa('chmod', ['-R', 'a+rX', path.join(context, 'tools')]);
  await execa('chmod', ['a+x', ...HOST_TOOLS.map((tool) => path.join(context, 'tools/opt/tools', tool))]);
}

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY tools/ /
ENV PATH=/bin:/opt/tools
RUN mkdir -p /t/dir-deleted/sub /t/dir-to-file /t/dir-recreated /t/dir-back && echo x > /t/file-deleted && echo x > /t/dir-deleted/sub/f && echo x > /t/dir-to-file/f && echo old > /t/dir-recreated/old && echo x > /t/dir-back/f && echo keep > /t/kept
RUN rm /t/file-deleted && rm -r /t/dir-deleted && rm -r /t/dir-to-file && echo now-a-file > /t/dir-to-file && rm -r /t/dir-recreated && mkdir /t/dir-recreated && echo new > /t/dir-recreated/new && rm -r /t/dir-back && echo file > /t/dir-back
RUN rm /t/dir-back && mkdir /t/dir-back && echo again > /t/dir-back/g
RUN mkdir /s && echo data > /s/file && ln /s/file /s/hardlink && ln -s file /s/rel-link && ln -s /s/file /s/abs-link && mkfifo -m 0640 /s/fifo && echo su > /s/setuid && chown 1000:1000 /s/setuid && chmod 4755 /s/setuid && echo sg > /s/setgid && chmod 2711 /s/setgid && mkdir -m 1777 /s/sticky && echo p > /s/ping && setfattr -n user.note -v hello /s/file && setcap cap_net_raw+ep /s/ping
`;
/** Layer indexes in the manifest, one per COPY/RUN above. */
const LAYER = { setup: 3, change: 4, back: 5, special: 6 };

interface Listed {
  type: string;
  mode: string;
  owner: string;
  path: string;
  link?: string;
  xattrs: string[];
}

/** GNU tar's view of a layer blob (it detects gzip and zstd by itself), with xattr names. */
async function gnuTarList(file: string): Promise<Listed[]> {
  const { stdout } = await execa('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-tvvf', file]);
  const entries: Listed[] = [];
  for (const line of stdout.split('\n').filter(Boolean)) {
    const xattr = /^\s+x:\s+\d+\s+(\S+)/.exec(line);
    if (xattr) {
      entries.at(-1)!.xattrs.push(xattr[1]!);
      continue;
    }
    const fields = line.split(/\s+/);
    const rest = fields.slice(5).join(' ');
    const [name, link] = rest.includes(' -> ') ? rest.split(' -> ') : rest.includes(' link to ') ? rest.split(' link to ') : [rest];
    entries.push({ type: fields[0]![0]!, mode: fields[0]!.slice(0, 10), owner: fields[1]!, path: name!.replace(/\/$/, ''), link, xattrs: [] });
  }
  return entries;
}

async function layerEntries(root: string, tag: string, index: number): Promise<Map<string, Listed>> {
  const image = await readImage(root, tag);
  const entries = await gnuTarList(blobPath(root, image.manifest.layers[index]!.digest));
  return new Map(entries.map((entry) => [entry.path, entry]));
}

describe.each<DriverName>(['overlay', 'fuse-overlayfs', 'copy'])('layers built with %s', (driver) => {
  let root: string;
  let context: string;
  const opts = (): RiboOptions => ({ root, driver });

  beforeAll(async () => {
    root = await makeStore();
    context = await makeContext({ Dockerfile: DOCKERFILE }, 'hello');
    await copyHostTools(context);
    await riboOk(['build', '-t', 'layers:test', context], opts());
  });

  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  });

  it('records a deleted file and a deleted dir as whiteouts, and nothing else for them', async () => {
    const change = await layerEntries(root, 'layers:test', LAYER.change);
    expect(change.get('t/.wh.file-deleted')).toMatchObject({ type: '-' });
    expect(change.get('t/.wh.dir-deleted')).toMatchObject({ type: '-' });
    expect([...change.keys()].filter((name) => name.includes('dir-deleted') || name.includes('file-deleted')).sort()).toEqual(['t/.wh.dir-deleted', 't/.wh.file-deleted']);
  });

  it('writes a dir replaced by a file as that file, and a dir deleted then recreated as opaque', async () => {
    const change = await layerEntries(root, 'layers:test', LAYER.change);
    expect(change.get('t/dir-to-file')).toMatchObject({ type: '-' });
    expect(change.has('t/dir-to-file/f')).toBe(false);
    expect(change.get('t/dir-recreated')).toMatchObject({ type: 'd' });
    expect(change.has('t/dir-recreated/.wh..wh..opq')).toBe(true);
    expect(change.has('t/dir-recreated/new')).toBe(true);
    expect(change.get('t/dir-back')).toMatchObject({ type: '-' });
    const back = await layerEntries(root, 'layers:test', LAYER.back);
    expect(back.get('t/dir-back')).toMatchObject({ type: 'd' });
    expect(back.has('t/dir-back/g')).toBe(true);
  });

  it('ribo run sees exactly the tree the whiteouts and opaque dirs leave', async () => {
    const { stdout } = await riboOk(['run', '--rm', 'layers:test', 'sh', '-c', 'cd /t && find . | sort && cat dir-to-file dir-back/g'], opts());
    expect(stdout.trim().split('\n')).toEqual(['.', './dir-back', './dir-back/g', './dir-recreated', './dir-recreated/new', './dir-to-file', './kept', 'now-a-file', 'again']);
  });

  it('keeps hardlinks, symlinks, fifos, xattrs, capabilities and setuid/setgid/sticky bits in the layer tar', async () => {
    const special = await layerEntries(root, 'layers:test', LAYER.special);
    expect(special.get('s/file')).toMatchObject({ type: '-', xattrs: ['user.note'] });
    expect(special.get('s/hardlink')).toMatchObject({ type: 'h', link: 's/file' });
    expect(special.get('s/rel-link')).toMatchObject({ type: 'l', link: 'file' });
    expect(special.get('s/abs-link')).toMatchObject({ type: 'l', link: '/s/file' });
    expect(special.get('s/fifo')).toMatchObject({ type: 'p', mode: 'prw-r-----' });
    expect(special.get('s/setuid')).toMatchObject({ mode: '-rwsr-xr-x', owner: '1000/1000' });
    expect(special.get('s/setgid')).toMatchObject({ mode: '-rwx--s--x' });
    expect(special.get('s/sticky')).toMatchObject({ mode: 'drwxrwxrwt' });
    expect(special.get('s/ping')!.xattrs).toEqual(['security.capability']);
  });

  it('ribo run sees the same special files, attributes and capabilities', async () => {
    const script = [
      'cd /s',
      'stat -c "%n %F %a %u:%g %h" file hardlink fifo setuid setgid sticky',
      'readlink rel-link', 'readlink abs-link',
      'cat abs-link',
      'getfattr -n user.note --only-values file; echo',
      'getcap ping',
    ].join(' && ');
    const { stdout } = await riboOk(['run', '--rm', 'layers:test', 'sh', '-c', script], opts());
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'file regular file 644 0:0 2',
      'hardlink regular file 644 0:0 2',
      'fifo fifo 640 0:0 1',
      'setuid regular file 4755 1000:1000 1',
      'setgid regular file 2711 0:0 1',
      'sticky directory 1777 0:0 2',
    ]);
    expect(lines.slice(6)).toEqual(['file', '/s/file', 'data', 'hello', expect.stringMatching(/^ping (cap_net_raw=ep|= cap_net_raw\+ep)$/)]);
  });
});

const asRoot = process.getuid?.() === 0;

(asRoot ? describe : describe.skip)('device nodes (only real root can create them)', () => {
  // Containers always get a user namespace, so even as root a RUN cannot mknod. Devices
  // reach images through imported or pulled layers; a RUN that changes one copies it up.
  let root: string;
  let work: string;
  beforeAll(async () => {
    root = await makeStore('root');
    work = await makeContext({ Dockerfile: 'FROM devbase\nRUN chmod 0620 /devs/null && chown 5:6 /devs/loop && echo changed > /devs/marker\n' });
    const rootfs = path.join(work, 'rootfs');
    await mkdir(path.join(rootfs, 'devs'), { recursive: true });
    await copyFile('/bin/busybox', path.join(rootfs, 'busybox'));
    await execa('sh', ['-ec', 'mkdir bin && ./busybox --install -s "$PWD/bin" && ln -sf /busybox bin/sh && for l in bin/*; do ln -sf /busybox "$l"; done && mknod devs/null c 1 3 && mknod devs/loop b 7 0', '--'], { cwd: rootfs });
    await execa('tar', ['--numeric-owner', '-C', rootfs, '-cf', path.join(work, 'rootfs.tar'), '.']);
    await riboOk(['import', path.join(work, 'rootfs.tar'), 'devbase'], { root, asUser: 'root' });
  });
  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', work]);
  });

  it('keeps char and block devices a RUN changed with overlay, in the layer and in ribo run', async () => {
    await riboOk(['build', '--no-cache', '-t', 'devices', work], { root, driver: 'overlay', asUser: 'root' });
    const layer = await layerEntries(root, 'devices:latest', 1);
    expect(layer.get('devs/null')).toMatchObject({ type: 'c', mode: 'crw--w----' });
    expect(layer.get('devs/loop')).toMatchObject({ type: 'b', owner: '5/6' });
    const listing = await execa('tar', ['--numeric-owner', '-tvf', blobPath(root, (await readImage(root, 'devices:latest')).manifest.layers[1]!.digest)]);
    expect(listing.stdout).toMatch(/crw--w---- 0\/0 +1,3 .*devs\/null/);
    expect(listing.stdout).toMatch(/brw-r--r-- 5\/6 +7,0 .*devs\/loop/);
    for (const driver of ['overlay', 'fuse-overlayfs'] as const) {
      const { stdout } = await riboOk(['run', '--rm', 'devices', 'stat', '-c', '%n %F %a %t,%T %u:%g', '/devs/null', '/devs/loop'], { root, driver, asUser: 'root' });
      expect(stdout.trim().split('\n')).toEqual(['/devs/null character special file 620 1,3 0:0', '/devs/loop block special file 644 7,0 5:6']);
    }
  });

  it('with fuse-overlayfs, a RUN that changes a device fails clearly; devices of lower layers are seen', async () => {
    // fuse-overlayfs cannot copy a device node up for a container in a user namespace (EIO).
    const failed = await ribo(['build', '--no-cache', '-t', 'devices:fuse', work], { root, driver: 'fuse-overlayfs', asUser: 'root' });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toMatch(/\/devs\/null: Input\/output error/);
    const { stdout } = await riboOk(['run', '--rm', 'devbase', 'stat', '-c', '%n %F %t,%T', '/devs/null', '/devs/loop'], { root, driver: 'fuse-overlayfs', asUser: 'root' });
    expect(stdout.trim().split('\n')).toEqual(['/devs/null character special file 1,3', '/devs/loop block special file 7,0']);
  });
});

describe('device nodes in a user namespace', () => {
  it('cannot be made by a RUN step, which fails with the error mknod reports', async () => {
    const root = await makeStore();
    const context = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "mknod", "/null", "c", "1", "3"]\n' }, 'hello');
    try {
      const result = await ribo(['build', '-t', 'nodev', context], { root });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/mknod/i);
      expect(JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')).manifests).toEqual([]);
    } finally {
      await removeStore(root);
      await execa('rm', ['-rf', context]);
    }
  });
});

describe('--compression', () => {
  let root: string;
  let context: string;
  beforeAll(async () => {
    root = await makeStore();
    context = await makeContext({}, 'hello');
  });
  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  });

  const layerTypes = async (tag: string) => (await readImage(root, tag)).manifest.layers.map((layer) => layer.mediaType);

  it('builds zstd layers that run, and never serves them to a gzip build from the cache', async () => {
    await riboOk(['build', '--compression', 'zstd', '-t', 'hello:zstd', context], { root });
    const zstdImage = await readImage(root, 'hello:zstd');
    expect(new Set(await layerTypes('hello:zstd'))).toEqual(new Set(['application/vnd.oci.image.layer.v1.tar+zstd']));
    for (const layer of zstdImage.manifest.layers) {
      const head = (await readFile(blobPath(root, layer.digest))).subarray(0, 4);
      expect(head).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    }
    const { stdout } = await riboOk(['run', '--rm', 'hello:zstd', 'cat', '/app/greeting.txt'], { root });
    expect(stdout).toContain('Hello from a ribo container!');

    const gzip = await riboOk(['build', '-t', 'hello:gzip', context], { root });
    expect(gzip.stderr).not.toMatch(/CACHED (RUN|COPY)/);
    expect(new Set(await layerTypes('hello:gzip'))).toEqual(new Set(['application/vnd.oci.image.layer.v1.tar+gzip']));
    const gzipImage = await readImage(root, 'hello:gzip');
    expect(gzipImage.config.rootfs.diff_ids).toEqual(zstdImage.config.rootfs.diff_ids);

    const again = await riboOk(['build', '--compression', 'zstd', '-t', 'hello:zstd2', context], { root });
    expect(again.stderr).not.toMatch(/\] (RUN|COPY)/);
    expect((await readImage(root, 'hello:zstd2')).manifest).toEqual(zstdImage.manifest);
  });

  it('saves a zstd image as an oci-archive that loads into another store and runs', async () => {
    const other = await makeStore(); // owned by the user ribo runs as, so it can write there too
    const archive = path.join(other, 'zstd.oci.tar');
    await riboOk(['save', '-o', archive, 'hello:zstd'], { root });
    try {
      await riboOk(['load', '-i', archive], { root: other });
      const loaded = await readImage(other, 'hello:zstd');
      expect(loaded.manifest.layers.every((layer) => layer.mediaType.endsWith('+zstd'))).toBe(true);
      const { stdout } = await riboOk(['run', '--rm', 'hello:zstd', 'cat', '/app/greeting.txt'], { root: other });
      expect(stdout).toContain('Hello from a ribo container!');
    } finally {
      await removeStore(other);
    }
  });

  it('pushes a zstd image to a registry and pulls it into an empty store that runs it', async () => {
    const registry = await startRegistry();
    const other = await makeStore();
    try {
      const name = `${registry.host}/e2e/zstd:1`;
      await riboOk(['tag', 'hello:zstd', name], { root });
      await riboOk(['push', name], { root });
      await riboOk(['pull', name], { root: other });
      expect((await readImage(other, name)).manifest.layers.every((layer) => layer.mediaType.endsWith('+zstd'))).toBe(true);
      const { stdout } = await riboOk(['run', '--rm', name, 'cat', '/app/greeting.txt'], { root: other });
      expect(stdout).toContain('Hello from a ribo container!');
    } finally {
      await removeStore(other);
      await registry.stop();
    }
  });

  it('imports a rootfs as an uncompressed or zstd layer', async () => {
    const tarball = path.join(context, 'rootfs.tar');
    await execa('sh', ['-ec', `mkdir -p r/bin && cp busybox r/bin/busybox && ln -s busybox r/bin/sh && tar --numeric-owner -C r -cf ${tarball} . && chmod a+r ${tarball}`], { cwd: context });
    for (const [compression, mediaType] of [['none', 'application/vnd.oci.image.layer.v1.tar'], ['zstd', 'application/vnd.oci.image.layer.v1.tar+zstd']]) {
      await riboOk(['import', '--compression', compression!, tarball, `rootfs:${compression}`], { root });
      expect(await layerTypes(`rootfs:${compression}`)).toEqual([mediaType]);
      const { stdout } = await riboOk(['run', '--rm', `rootfs:${compression}`, '/bin/busybox', 'echo', 'imported'], { root });
      expect(stdout.trim()).toBe('imported');
    }
    const bad = await ribo(['import', '--compression', 'lz4', tarball, 'rootfs:lz4'], { root });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/compression/);
  });
});

describe('reproducible layers', () => {
  let context: string;
  const stores: string[] = [];
  const newStore = async () => {
    const store = await makeStore();
    stores.push(store);
    return store;
  };
  beforeAll(async () => {
    context = await makeContext({
      Dockerfile: 'FROM base\nRUN touch -d "2027-01-15 08:00:00" /future && touch -d "2020-09-13 12:26:40" /past && mkdir /owned && chown 1000:1000 /owned\n',
    }, 'hello');
    await execa('sh', ['-ec', 'mkdir -p r/bin && cp busybox r/bin/busybox && ln -s busybox r/bin/sh && ln -s busybox r/bin/touch && ln -s busybox r/bin/mkdir && ln -s busybox r/bin/chown && tar --numeric-owner -C r -cf rootfs.tar . && chmod a+r rootfs.tar'], { cwd: context });
  });
  afterAll(async () => {
    for (const store of stores) await removeStore(store);
    await execa('rm', ['-rf', context]);
  });

  async function buildOn(store: string, compression: string): Promise<{ digest: string; base: { digest: string; mediaType: string }; baseBlob: string }> {
    await riboOk(['import', path.join(context, 'rootfs.tar'), 'base'], { root: store, env: { SOURCE_DATE_EPOCH: '1600000000' } });
    const base = await readImage(store, 'base:latest');
    const baseLayer = base.manifest.layers[0]!;
    const baseBlob = await sha256OfFile(blobPath(store, baseLayer.digest));
    const { stdout } = await riboOk(['build', '--compression', compression, '-t', 'repro', context], { root: store, env: { SOURCE_DATE_EPOCH: '1700000000' } });
    return { digest: stdout.trim(), base: baseLayer, baseBlob };
  }

  it('clamps mtimes to SOURCE_DATE_EPOCH, stores numeric owners only, and never rewrites the base layer', async () => {
    const store = await newStore();
    const { base, baseBlob } = await buildOn(store, 'zstd');
    const image = await readImage(store, 'repro:latest');
    // The base layer is the imported blob itself: same descriptor, same bytes, still gzip.
    expect(image.manifest.layers[0]).toEqual(base);
    expect(base.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(await sha256OfFile(blobPath(store, base.digest))).toBe(baseBlob);
    expect(image.manifest.layers[1]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');

    const { stdout } = await execa('tar', ['--full-time', '-tvf', blobPath(store, image.manifest.layers[1]!.digest)], { env: { TZ: 'UTC' } });
    const line = (name: string) => stdout.split('\n').find((l) => l.endsWith(` ${name}`)) ?? `no ${name} in ${stdout}`;
    expect(line('future')).toContain(' 2023-11-14 22:13:20 '); // 1700000000: clamped
    expect(line('past')).toContain(' 2020-09-13 12:26:40 '); // older: kept
    // Without --numeric-owner GNU tar would print names if the archive had any.
    expect(line('owned/')).toMatch(/^d\S+ 1000\/1000 /);
    expect(line('past')).toMatch(/^-\S+ 0\/0 /);
    // A container on the building machine sees the times the layer records.
    const { stdout: seen } = await riboOk(['run', '--rm', 'repro', '/bin/busybox', 'stat', '-c', '%Y', '/future', '/past'], { root: store });
    expect(seen.trim().split('\n')).toEqual(['1700000000', '1600000000']);
  });

  it('gives the same image digest on two empty stores, with gzip and with zstd', async () => {
    for (const compression of ['gzip', 'zstd']) {
      const first = await buildOn(await newStore(), compression);
      const second = await buildOn(await newStore(), compression);
      expect(second.digest).toBe(first.digest);
    }
  });
});

async function sha256OfFile(file: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(await readFile(file)).digest('hex');
}
