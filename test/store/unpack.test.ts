import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Store } from '../../src/store/index.js';
import { listDir, makeTempDir, removeTempDir } from './support.js';

describe('Store layer dirs and temp dirs', () => {
  let dir: string;
  let store: Store;
  const diffID = `sha256:${'cd'.repeat(32)}`;
  beforeEach(async () => {
    dir = makeTempDir('store-unpack');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  it('unpacks once and reuses the result', async () => {
    let calls = 0;
    const unpack = async (temp: string) => {
      calls++;
      await fs.writeFile(path.join(temp, 'file'), 'content');
    };
    const first = await store.ensureUnpacked(diffID, unpack);
    const second = await store.ensureUnpacked(diffID, unpack);
    expect(first).toBe(path.join(store.root, 'layers', 'cd'.repeat(32)));
    expect(second).toBe(first);
    expect(calls).toBe(1);
    expect(await fs.readFile(path.join(first, 'file'), 'utf8')).toBe('content');
    expect(((await fs.stat(first)).mode & 0o777).toString(8)).toBe('755');
  });

  it('keeps one copy when two unpacks of the same layer overlap', async () => {
    let release!: () => void;
    const bothStarted = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const unpack = (label: string) => async (temp: string) => {
      await fs.writeFile(path.join(temp, 'who'), label);
      if (++started === 2) release();
      await bothStarted;
    };
    const [a, b] = await Promise.all([store.ensureUnpacked(diffID, unpack('a')), store.ensureUnpacked(diffID, unpack('b'))]);
    expect(a).toBe(b);
    expect(['a', 'b']).toContain(await fs.readFile(path.join(a, 'who'), 'utf8'));
    expect(await listDir(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('leaves no layer dir and no scratch when unpacking fails, even with read-only dirs', async () => {
    await expect(
      store.ensureUnpacked(diffID, async (temp) => {
        await fs.mkdir(path.join(temp, 'ro'));
        await fs.writeFile(path.join(temp, 'ro', 'f'), 'x');
        await fs.chmod(path.join(temp, 'ro'), 0o555);
        throw new Error('tar is broken');
      }),
    ).rejects.toThrow('tar is broken');
    expect(await listDir(path.join(store.root, 'layers'))).toEqual([]);
    expect(await listDir(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('makes distinct temp dirs under tmp/ whose names carry the prefix', async () => {
    const a = await store.makeTempDir('build');
    const b = await store.makeTempDir('build');
    expect(a).not.toBe(b);
    expect(path.dirname(a)).toBe(path.join(store.root, 'tmp'));
    expect(path.basename(a)).toMatch(new RegExp(`^${process.pid}\\.\\d+-build-`));
    expect(path.basename(await store.makeTempDir('../escape'))).toMatch(/-\.\._escape-/);
    expect((await fs.stat(a)).isDirectory()).toBe(true);
  });
});
