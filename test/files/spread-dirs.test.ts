import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { markTopDir } from '../../src/files/spread-dirs.js';
import { Store } from '../../src/store/index.js';
import { ContainerStore } from '../../src/run/containers.js';
import { OciRuntime } from '../../src/runtime/oci-runtime.js';
import { containerFields } from '../run/support.js';

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ribo-spread-'));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** The attribute letters lsattr shows for a directory, or undefined where the file system has none. */
function attributes(target: string): string | undefined {
  const result = spawnSync('lsattr', ['-d', target], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.split(' ')[0] : undefined;
}

describe('markTopDir', () => {
  it('sets the Orlov top-directory attribute where the file system keeps it, and only on that directory', async () => {
    const before = attributes(dir);
    await markTopDir(dir);
    const after = attributes(dir);
    if (before === undefined) {
      // tmpfs and the like: nothing to set, and no error either.
      expect(after).toBeUndefined();
      return;
    }
    expect(before).not.toContain('T');
    expect(after).toContain('T');
    // Not inherited: a tree made inside is placed near its own top, as usual.
    await fs.mkdir(path.join(dir, 'child'));
    expect(attributes(path.join(dir, 'child'))).not.toContain('T');
  });

  it('marks every dir it is given', async () => {
    if (attributes(dir) === undefined) return; // no attributes on this file system: the first test covers it
    await fs.mkdir(path.join(dir, 'a'));
    await fs.mkdir(path.join(dir, 'b'));
    await markTopDir(path.join(dir, 'a'), path.join(dir, 'b'));
    expect(attributes(path.join(dir, 'a'))).toContain('T');
    expect(attributes(path.join(dir, 'b'))).toContain('T');
  });

  it('never fails: a missing directory is left alone', async () => {
    await expect(markTopDir(path.join(dir, 'missing'))).resolves.toBeUndefined();
    expect(await fs.readdir(dir)).toEqual([]);
  });
});

describe('where ribo marks top dirs', () => {
  it("marks a new store's tmp/, where layers are unpacked and builds work", async () => {
    if (attributes(dir) === undefined) return; // no attributes on this file system: the first test covers it
    const root = path.join(dir, 'store');
    await Store.open(root);
    expect(attributes(path.join(root, 'tmp'))).toContain('T');
    expect(attributes(path.join(root, 'layers'))).not.toContain('T');
  });

  // A planned `ribo run --rm` makes some 20 files in each and removes them after.
  it("marks the store's containers/ and the runtime's state dir when they are made", async () => {
    if (attributes(dir) === undefined) return;
    const containers = new ContainerStore(path.join(dir, 'store', 'containers'));
    await containers.create(containerFields());
    expect(attributes(containers.dir)).toContain('T');
    const stateDir = path.join(dir, 'store', 'run', 'crun');
    await OciRuntime.select({ requested: 'crun', stateDir, rootless: false });
    expect(attributes(stateDir)).toContain('T');
    expect(attributes(path.join(dir, 'store', 'run'))).not.toContain('T');
  });
});
