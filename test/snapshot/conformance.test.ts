/**
 * One suite for every snapshotter (kernel overlay, fuse-overlayfs, the
 * copying fallback): each must turn a stack of unpacked layers into the same
 * root file system, record every kind of change a RUN step can make in its
 * upper dir so that the committed layer, unpacked and stacked again, shows
 * exactly what the view showed, accept a stack that names a layer twice, and
 * prepare a view again over what a process that died holding one left.
 * Needs root (mounts in the host's mount namespace, device nodes), as CI runs it.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { applyLayer, writeLayerFromUpperDir } from '../../src/layer/index.js';
import { selectSnapshotter, type Snapshotter } from '../../src/snapshot/index.js';
import { isMountPoint } from '../../src/snapshot/mount.js';
import { describeTree, run, sh, TempDirs } from '../layer/helpers.js';
import { IMPLEMENTATIONS, makeSnapshotter } from './implementations.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

const CRASHING_VIEW = fileURLToPath(new URL('./fixtures/crashing-view.js', import.meta.url));

const BASE_SETUP = [
  'mkdir -p etc/conf.d var/cache/apt/archives usr/bin replaced-by-file/deep data',
  'echo root > etc/passwd && echo a > etc/conf.d/a && echo b > etc/conf.d/b',
  'head -c 100000 /dev/urandom > var/cache/apt/archives/pkg.deb && touch var/cache/apt/lock',
  'echo old > replaced-by-file/deep/x && echo file > replaced-by-dir',
  'echo tool > usr/bin/tool && echo gone > usr/bin/removed && touch data/keep',
  'mkdir -p gone-dir/sub && touch gone-dir/sub/f',
  'touch -d @1500000000 etc/passwd etc/conf.d/a etc/conf.d/b',
].join(' && ');

/** What a RUN step might do: every kind of change a layer has to carry. */
const CHANGES = [
  // whiteouts: files and a whole tree deleted
  'rm etc/conf.d/a usr/bin/removed && rm -r gone-dir',
  // opaque directories: deleted and made again, a directory replaced by a file and back
  'rm -r var/cache/apt && mkdir -p var/cache/apt && echo fresh > var/cache/apt/new',
  'rm -r replaced-by-file && echo now-a-file > replaced-by-file',
  'rm replaced-by-dir && mkdir replaced-by-dir && touch replaced-by-dir/inside',
  // owners, modes, hard links, symlinks, device nodes, fifos, xattrs, times
  'echo changed >> etc/passwd && chown 1000:1000 etc/passwd',
  'echo su > usr/bin/su && chmod 4755 usr/bin/su && ln usr/bin/su usr/bin/su-link',
  'ln -s ../usr/bin/tool data/tool-link && mknod data/null c 1 3 && mknod data/loop b 7 0 && mkfifo data/fifo',
  'setfattr -n user.note -v hello data/keep && setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= usr/bin/tool',
  'touch -d @1600000000 etc/passwd usr/bin/su',
].join(' && ');

/** Writes `dir` (an upper dir in any snapshotter's encoding) as a layer tar and unpacks it as a store lower dir. */
async function commitAsLower(dir: string, base: string, name: string): Promise<string> {
  const blob = join(base, `${name}.tgz`);
  await writeLayerFromUpperDir(dir, createWriteStream(blob), { compression: 'gzip', sourceDateEpoch: 2000000000 });
  const lower = join(base, name);
  mkdirSync(lower);
  await applyLayer(createReadStream(blob), lower, { mode: 'lower' });
  return lower;
}

/** The tree a read-only view of `lowers` shows. */
async function viewTree(snapshotter: Snapshotter, lowers: string[], dir: string): Promise<string[]> {
  const view = await snapshotter.view(lowers, dir);
  try {
    return describeTree(view.rootfs);
  } finally {
    await view.release();
  }
}

describe.each(IMPLEMENTATIONS)('the %s snapshotter', (driver) => {
  let base: string;
  let snapshotter: Snapshotter;
  let layer0: string;

  beforeEach(async () => {
    base = temp.make(`snap-${driver}`);
    snapshotter = makeSnapshotter(driver, join(base, 'empty'));
    const source = join(base, 'source');
    mkdirSync(source);
    sh(source, BASE_SETUP);
    // Layer 0 is the base tree itself (an upper dir with no whiteouts).
    layer0 = await commitAsLower(source, base, 'layer0');
  });

  it('says which implementation it is, and its mount as data', async () => {
    const view = await snapshotter.prepare({ lowers: [layer0], dir: join(base, 'c') });
    try {
      expect(view.driver).toBe(driver);
      expect(snapshotter.driver).toBe(driver);
      expect(view.capabilities).toEqual(snapshotter.capabilities);
      expect(JSON.parse(JSON.stringify(view.mount))).toEqual(view.mount);
      expect(view.mount.lowers).toEqual([layer0]);
      expect(readFileSync(join(view.rootfs, 'etc/passwd'), 'utf8')).toBe('root\n');
    } finally {
      await view.release();
    }
  });

  it('records whiteouts, opaque dirs, hard links, xattrs and device nodes so the committed layer shows the same tree', async () => {
    const view = await snapshotter.prepare({ lowers: [layer0], dir: join(base, 'step'), volatile: true });
    let expected: string[];
    try {
      sh(view.rootfs, CHANGES);
      expected = describeTree(view.rootfs);
      // Released in a later second than the changes: a snapshotter that touches directories while releasing shows in their mtimes.
      await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
    } finally {
      await view.release();
    }
    expect(await isMountPoint(view.rootfs)).toBe(false);
    const layer1 = await commitAsLower(view.upper, base, 'layer1');

    // Stacked as lower dirs under a new view of the same snapshotter.
    expect(await viewTree(snapshotter, [layer1, layer0], join(base, 'stacked'))).toEqual(expected);
    // Applied onto the base tree, as `build --output` and the copying fallback do.
    const merged = join(base, 'merged');
    run('cp', '-a', join(base, 'source'), merged);
    await applyLayer(createReadStream(join(base, 'layer1.tgz')), merged, { mode: 'merge' });
    expect(describeTree(merged)).toEqual(expected);
  });

  it('records a directory deleted and made again as such when the file system gives the new one the old inode number', async () => {
    const view = await snapshotter.prepare({ lowers: [layer0], dir: join(base, 'step'), volatile: true });
    let expected: string[];
    try {
      // ext4 hands a freed inode number out again at once, but not every time: try until it does (tmpfs never does).
      const before = statSync(join(view.rootfs, 'etc/conf.d')).ino;
      sh(view.rootfs, `i=0; while [ $i -lt 500 ]; do rm -r etc/conf.d && mkdir etc/conf.d; [ "$(stat -c %i etc/conf.d)" = ${before} ] && break; i=$((i+1)); done`);
      sh(view.rootfs, 'echo fresh > etc/conf.d/new');
      expected = describeTree(view.rootfs);
      expect(expected.filter((line) => line.includes('etc/conf.d/')).length).toBe(1);
    } finally {
      await view.release();
    }
    const layer1 = await commitAsLower(view.upper, base, 'layer1');
    // The layer says so as overlay's does, with an opaque marker (not a whiteout for each old entry),
    // and the old a and b stay hidden under the new directory.
    const inside = run('tar', '-tzf', join(base, 'layer1.tgz')).split('\n').map((name) => name.replace(/^\.?\//, '')).filter((name) => /^etc\/conf\.d\/./.test(name));
    expect(inside.sort()).toEqual(['etc/conf.d/.wh..wh..opq', 'etc/conf.d/new']);
    expect(await viewTree(snapshotter, [layer1, layer0], join(base, 'stacked'))).toEqual(expected);
  });

  it('mounts a stack that names the same layer more than once, as if once at its top-most place', async () => {
    const view = await snapshotter.prepare({ lowers: [layer0], dir: join(base, 'step') });
    try {
      sh(view.rootfs, 'rm etc/conf.d/b && echo two > etc/two');
    } finally {
      await view.release();
    }
    const layer1 = await commitAsLower(view.upper, base, 'layer1');
    const expected = await viewTree(snapshotter, [layer1, layer0], join(base, 'once'));
    expect(expected.some((line) => line.startsWith('etc/two '))).toBe(true);
    // Three RUN steps that changed nothing give three equal diffIDs: the same dir three times.
    expect(await viewTree(snapshotter, [layer1, layer1, layer1, layer0], join(base, 'thrice'))).toEqual(expected);
    expect(await viewTree(snapshotter, [layer1, layer0, layer1, layer0], join(base, 'interleaved'))).toEqual(expected);
  });

  it('prepares a view again over what a process that died holding one left behind', async () => {
    const dir = join(base, 'container');
    const child = spawn(process.execPath, [CRASHING_VIEW, driver, dir, join(base, 'empty'), layer0], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = await new Promise<string | undefined>((resolve) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', () => resolve(undefined));
    });
    expect({ ready, stderr }).toEqual({ ready: 'ready', stderr: '' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const view = await snapshotter.prepare({ lowers: [layer0], dir });
    try {
      expect(readFileSync(join(view.rootfs, 'etc/passwd'), 'utf8')).toBe('root\n');
      // What reached the kept upper dir before the crash is there again where kept upper dirs are reused.
      expect(existsSync(join(view.rootfs, 'written-before-crash'))).toBe(view.capabilities.reusesKeptUpper);
      sh(view.rootfs, 'echo after > after-crash');
    } finally {
      await view.release();
    }
    expect(await isMountPoint(view.rootfs)).toBe(false);
    expect(existsSync(join(view.upper, 'after-crash'))).toBe(true);
  });
});

describe('the first working snapshotter', () => {
  it('names no implementation before its first view, and then the one that made it', async () => {
    const base = temp.make('snap-first');
    const snapshotter = await selectSnapshotter({ scratchDir: join(base, 'scratch'), rootless: true, warn: () => undefined });
    expect(snapshotter.driver).toBeUndefined();
    expect(snapshotter.capabilities).toBeUndefined();
    const lower = join(base, 'lower');
    mkdirSync(lower);
    const view = await snapshotter.view([lower], join(base, 'view'));
    await view.release();
    expect(IMPLEMENTATIONS).toContain(view.driver);
    expect(snapshotter.driver).toBe(view.driver);
    expect(snapshotter.capabilities).toEqual(view.capabilities);
  });
});
