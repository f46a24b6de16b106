/**
 * End-to-end against the real overlay implementations: changes made through a kernel
 * overlay (userxattr) or fuse-overlayfs mount are committed with
 * writeLayerFromUpperDir, and the layer is then unpacked both ways: merged onto a copy
 * of the lower tree, and as lower dirs stacked under a fresh overlay mount. Each must
 * show exactly what the mount showed. Needs root (CI runs as root).
 */
import { mkdirSync, createWriteStream, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { applyLayer, writeLayerFromUpperDir } from '../../src/layer/index.js';
import { describeTree, run, sh, TempDirs } from './helpers.js';

const temp = new TempDirs();
afterAll(() => temp.cleanup());

const LOWER_SETUP = [
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
  'rm etc/conf.d/a usr/bin/removed && rm -r gone-dir',
  'rm -r var/cache/apt && mkdir -p var/cache/apt && echo fresh > var/cache/apt/new',
  'rm -r replaced-by-file && echo now-a-file > replaced-by-file',
  'rm replaced-by-dir && mkdir replaced-by-dir && touch replaced-by-dir/inside',
  'echo changed >> etc/passwd && chown 1000:1000 etc/passwd',
  'echo su > usr/bin/su && chmod 4755 usr/bin/su && ln usr/bin/su usr/bin/su-link',
  'ln -s ../usr/bin/tool data/tool-link && mknod data/null c 1 3 && mkfifo data/fifo',
  'setfattr -n user.note -v hello data/keep && setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= usr/bin/tool',
  'touch -d @1600000000 etc/passwd usr/bin/su',
].join(' && ');

type Driver = 'kernel' | 'fuse-overlayfs';

function mount(driver: Driver, lowers: string[], upper: string | null, work: string | null, merged: string): void {
  const options = [`lowerdir=${lowers.join(':')}`];
  if (upper && work) options.push(`upperdir=${upper}`, `workdir=${work}`);
  if (driver === 'kernel') run('mount', '-t', 'overlay', 'overlay', '-o', ['userxattr', ...options].join(','), merged);
  else run('fuse-overlayfs', '-o', options.join(','), merged);
}

function unmount(driver: Driver, merged: string): void {
  if (driver === 'kernel') run('umount', merged);
  else run('fusermount3', '-u', merged);
}

/** Mounts `lower` with a fresh upper dir, makes CHANGES through the mount and returns the tree it then shows. */
function changeThroughOverlay(driver: Driver, lower: string, upper: string, work: string, merged: string): string[] {
  mount(driver, [lower], upper, work, merged);
  try {
    sh(merged, CHANGES);
    return describeTree(merged);
  } finally {
    unmount(driver, merged);
  }
}

async function commit(upper: string, blobPath: string): Promise<void> {
  await writeLayerFromUpperDir(upper, createWriteStream(blobPath), { compression: 'gzip', sourceDateEpoch: 2000000000 });
}

describe.each<Driver>(['kernel', 'fuse-overlayfs'])('round trip through a %s overlay', (driver) => {
  it('merge-applying the committed layer onto the lower tree reproduces the mounted view', async () => {
    const base = temp.make(`rt-${driver}`);
    const [lower, upper, work, merged, result] = ['lower', 'upper', 'work', 'merged', 'result'].map((name) => join(base, name)) as [string, string, string, string, string];
    for (const dir of [lower, upper, work, merged]) mkdirSync(dir);
    sh(lower, LOWER_SETUP);

    const expected = changeThroughOverlay(driver, lower, upper, work, merged);

    const blob = join(base, 'layer.tgz');
    await commit(upper, blob);
    run('cp', '-a', lower, result);
    await applyLayer(createReadStream(blob), result, { mode: 'merge' });
    expect(describeTree(result)).toEqual(expected);
  });

  it('layers unpacked as lower dirs and stacked in a new mount show the same view', async () => {
    const base = temp.make(`lw-${driver}`);
    const [source, upper, work, merged, lower0, lower1, stacked] = ['source', 'upper', 'work', 'merged', 'lower0', 'lower1', 'stacked'].map((name) => join(base, name)) as [string, string, string, string, string, string, string];
    for (const dir of [source, upper, work, merged, lower0, lower1, stacked]) mkdirSync(dir);
    sh(source, LOWER_SETUP);

    // Layer 0 is the base tree itself (an upper dir with no whiteouts), layer 1 the changes.
    await commit(source, join(base, 'layer0.tgz'));
    const expected = changeThroughOverlay(driver, source, upper, work, merged);
    await commit(upper, join(base, 'layer1.tgz'));

    await applyLayer(createReadStream(join(base, 'layer0.tgz')), lower0, { mode: 'lower' });
    await applyLayer(createReadStream(join(base, 'layer1.tgz')), lower1, { mode: 'lower' });
    mount(driver, [lower1, lower0], null, null, stacked);
    try {
      expect(describeTree(stacked)).toEqual(expected);
    } finally {
      unmount(driver, stacked);
    }
  });
});
