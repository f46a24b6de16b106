/**
 * COPY, ADD and VOLUME where Docker/BuildKit have particular rules: wildcards
 * (several matches make a directory, a pattern matching nothing is fine while
 * another matches), local archives unpacked as Docker's untar does (`./`
 * entries, PAX global headers, symlinked parents resolved inside the image,
 * every compression), destinations through symlinks, symlinks as sources, and
 * VOLUME under a symlink. Checked in the built image through `ribo run`.
 */
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, open, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';

let root: string;
let context: string;
let sources: string;

async function sh(script: string, image: string): Promise<string> {
  return (await riboOk(['run', '--rm', image, 'sh', '-c', script], { root })).stdout.trim();
}

async function build(tag: string, dockerfile: string, dir = context): Promise<void> {
  const file = path.join(context, `${tag}.Dockerfile`);
  await writeFile(file, dockerfile);
  await chmod(file, 0o644);
  await riboOk(['build', '-t', `${tag}:latest`, '-f', file, dir], { root });
}

/** GNU tar over a directory of `sources`, written into the context. */
async function tar(name: string, from: string, ...args: string[]): Promise<void> {
  await execa('tar', ['-C', path.join(sources, from), '--numeric-owner', '-cf', path.join(context, name), ...args]);
  await chmod(path.join(context, name), 0o644);
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({
    'base.Dockerfile': 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n',
    'w/a.txt': 'a\n',
    'w/b.txt': 'b\n',
    'w/one.md': 'one\n',
    'f.txt': 'f\n',
    'g.txt': 'g\n',
    'tree/inner.txt': 'inner\n',
    'small/s.txt': 's\n',
  }, 'hello');
  await symlink('f.txt', path.join(context, 'linkfile'));
  await symlink('tree', path.join(context, 'linkdir'));
  await symlink('inner.txt', path.join(context, 'tree/inner-link'));

  sources = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-tarsrc-'));
  // `./` entry of mode 0700 owned by 1234: Docker leaves the unpack directory as it is.
  await mkdir(path.join(sources, 'dot/sub'), { recursive: true });
  await writeFile(path.join(sources, 'dot/sub/d.txt'), 'dot\n');
  await chmod(path.join(sources, 'dot'), 0o700);
  await tar('dot.tar', 'dot', '--owner=1234', '--group=2345', '.');
  // Entries below directories that are symlinks in the image (no entries for the directories themselves).
  await mkdir(path.join(sources, 'sym/symldir1'), { recursive: true });
  await mkdir(path.join(sources, 'sym/deep'), { recursive: true });
  await mkdir(path.join(sources, 'sym/relup'), { recursive: true });
  await writeFile(path.join(sources, 'sym/symldir1/myfile'), 'through abs link\n');
  await writeFile(path.join(sources, 'sym/deep/relfile'), 'through rel link\n');
  await writeFile(path.join(sources, 'sym/relup/upfile'), 'clamped at root\n');
  await tar('sym.tar', 'sym', '--no-recursion', 'symldir1/myfile', 'deep/relfile', 'relup/upfile');
  // A PAX global header (typeflag g) first, as git archive and some tar tools write.
  await tar('pax.tar', 'dot', '--format=pax', '--pax-option=globexthdr.name=pax_global_header,comment=made-by-test', 'sub/d.txt');
  // Names that would be whiteouts in a layer are plain files in an archive.
  await mkdir(path.join(sources, 'wh/sub'), { recursive: true });
  await writeFile(path.join(sources, 'wh/.wh.keep'), 'not a whiteout\n');
  await writeFile(path.join(sources, 'wh/sub/new.txt'), 'new\n');
  await tar('wh.tar', 'wh', '.wh.keep', 'sub/new.txt');
  // Every compression Docker's ADD reads.
  await mkdir(path.join(sources, 'z'), { recursive: true });
  await writeFile(path.join(sources, 'z/z.txt'), 'compressed\n');
  await tar('z.tar.gz', 'z', '-z', 'z.txt');
  await tar('z.tar.bz2', 'z', '-j', 'z.txt');
  await tar('z.tar.xz', 'z', '-J', 'z.txt');
  await tar('z.tar.zst', 'z', '--zstd', 'z.txt');
  await execa('chmod', ['-R', 'a+rX', context]);
  await riboOk(['build', '-t', 'base:latest', '-f', `${context}/base.Dockerfile`, context], { root });
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context, sources]);
});

it('makes a directory of a destination without "/" when a wildcard matches several files, and a file when it matches one', async () => {
  await build('wild', `FROM base:latest
COPY w/*.txt /testdir
ADD w/*.txt /addtestdir
COPY w/one.* /single
COPY w/*.nomatch w/one.md /mixed/
`);
  expect(await sh('stat -c %F /testdir; cat /testdir/a.txt /testdir/b.txt', 'wild:latest')).toBe('directory\na\nb');
  expect(await sh('stat -c %F /addtestdir; cat /addtestdir/a.txt /addtestdir/b.txt', 'wild:latest')).toBe('directory\na\nb');
  expect(await sh('stat -c %F /single; cat /single', 'wild:latest')).toBe('regular file\none');
  expect(await sh('ls /mixed', 'wild:latest')).toBe('one.md');
});

it('fails naming the patterns and the line only when no source matches at all', async () => {
  for (const kind of ['COPY', 'ADD']) {
    const file = path.join(context, 'nomatch.Dockerfile');
    await writeFile(file, `FROM base:latest\n${kind} w/*.nomatch w/*.none /x/\n`);
    const result = await ribo(['build', '-f', file, context], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/nomatch\.Dockerfile:2/);
    expect(result.stderr).toContain('"w/*.nomatch"');
    expect(result.stderr).toContain('"w/*.none"');
  }
});

it('unpacks archives as Docker does: "./" entries, PAX global headers, symlinked parents inside the image, .wh. names', async () => {
  // The archive really starts with a global header, or the test would prove nothing.
  const handle = await open(path.join(context, 'pax.tar'), 'r');
  const head = Buffer.alloc(512);
  await handle.read(head, 0, 512, 0);
  await handle.close();
  expect(String.fromCharCode(head[156]!)).toBe('g');

  await build('unpack', `FROM base:latest
RUN ln -s /etc /symldir1 && mkdir -p /opt/a/b && ln -s ../../../../opt/a /deep && ln -s .. /relup && mkdir /wh && echo kept > /wh/keep
ADD dot.tar /unpacked/
ADD pax.tar /pax/
ADD sym.tar /
ADD wh.tar /wh/
`);
  expect(await sh('stat -c "%a %u %g" /unpacked; cat /unpacked/sub/d.txt; stat -c "%u %g" /unpacked/sub', 'unpack:latest')).toBe('755 0 0\ndot\n1234 2345');
  expect(await sh('find /pax | sort; cat /pax/sub/d.txt', 'unpack:latest')).toBe('/pax\n/pax/sub\n/pax/sub/d.txt\ndot');
  expect(await sh('readlink /symldir1; cat /etc/myfile', 'unpack:latest')).toBe('/etc\nthrough abs link');
  expect(await sh('readlink /deep; cat /opt/a/relfile', 'unpack:latest')).toBe('../../../../opt/a\nthrough rel link');
  expect(await sh('readlink /relup; cat /upfile', 'unpack:latest')).toBe('..\nclamped at root');
  expect(await sh('cat /wh/sub/new.txt', 'unpack:latest')).toBe('new');
});

it('unpacks gzip, bzip2, xz and zstd archives', async () => {
  await build('compressed', `FROM base:latest
ADD z.tar.gz /gz/
ADD z.tar.bz2 /bz2/
ADD z.tar.xz /xz/
ADD z.tar.zst /zst/
`);
  expect(await sh('cat /gz/z.txt /bz2/z.txt /xz/z.txt /zst/z.txt', 'compressed:latest')).toBe('compressed\ncompressed\ncompressed\ncompressed');
});

it('copies through symlinked destinations inside the image, and follows symlinks named as sources', async () => {
  await build('links', `FROM base:latest
RUN mkdir -p /real/dir && ln -s /real/dir /abs && ln -s real/dir /rel && echo old > /real/target && ln -s /real/target /filelink && ln -s ../made/new /dangling
COPY f.txt /abs/
COPY g.txt /filelink
COPY g.txt /dangling
COPY g.txt /rel/g-renamed
ADD f.txt /rel/added
COPY linkfile /viafile
COPY linkdir /ld/
COPY tree /tree2
`);
  expect(await sh('readlink /abs; readlink /rel; ls /real/dir; cat /real/dir/f.txt /real/dir/g-renamed /real/dir/added', 'links:latest'))
    .toBe('/real/dir\nreal/dir\nadded\nf.txt\ng-renamed\nf\ng\nf');
  // A destination that is a symlink to a file is written through, the link kept.
  expect(await sh('readlink /filelink; cat /real/target; readlink /dangling; cat /made/new', 'links:latest')).toBe('/real/target\ng\n../made/new\ng');
  expect(await sh('stat -c %F /viafile; cat /viafile', 'links:latest')).toBe('regular file\nf');
  expect(await sh('ls /ld; stat -c %F /ld/inner-link', 'links:latest')).toBe('inner-link\ninner.txt\nsymbolic link');
  expect(await sh('readlink /tree2/inner-link; cat /tree2/inner-link', 'links:latest')).toBe('inner.txt\ninner');
});

it('cleans "/symlink/.." as Docker does: ADD . /symlink/.. copies into /', async () => {
  const file = path.join(context, 'dotdot.Dockerfile');
  await writeFile(file, 'FROM base:latest\nRUN mkdir -p /a/b && ln -s /a/b /symlink\nADD . /symlink/..\n');
  await riboOk(['build', '-t', 'dotdot:latest', '-f', file, path.join(context, 'small')], { root });
  expect(await sh('cat /s.txt; ls /a; readlink /symlink', 'dotdot:latest')).toBe('s\nb\n/a/b');
});

it('creates VOLUME directories under symlinks inside the image for later RUN steps, adding no layer itself', async () => {
  await build('volume', `FROM base:latest
RUN mkdir -p /data
RUN ln -s /data/log /test-log && ln -s ../rel-target /rel-log && echo file > /vfile
VOLUME ["/test-log/test", "/rel-log/v", "/vfile"]
RUN echo hello > /data/log/blah.txt && echo rel > /rel-target/f
`);
  // The image as built: without the anonymous volumes `ribo run` would mount over its VOLUME paths (docker run cannot mount one over /vfile).
  const image = async (script: string) => (await riboOk(['run', '--rm', '--image-volume', 'ignore', 'volume:latest', 'sh', '-c', script], { root })).stdout.trim();
  expect(await image('readlink /test-log; cat /data/log/blah.txt; stat -c %F /data/log/test /test-log/test'))
    .toBe('/data/log\nhello\ndirectory\ndirectory');
  expect(await image('readlink /rel-log; cat /rel-target/f; stat -c %F /rel-target/v')).toBe('../rel-target\nrel\ndirectory');
  // A volume over a file leaves the file alone, as BuildKit does.
  expect(await image('stat -c %F /vfile; cat /vfile')).toBe('regular file\nfile');
  const { config, manifest } = await readImage(root, 'volume:latest');
  expect(Object.keys(config.config.Volumes).sort()).toEqual(['/rel-log/v', '/test-log/test', '/vfile']);
  const volumeStep = config.history.find((h: { created_by: string }) => h.created_by.startsWith('VOLUME'));
  expect(volumeStep.empty_layer).toBe(true);
  expect(manifest.layers.length).toBe(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length);
});
