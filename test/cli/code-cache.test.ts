/**
 * bin/ribo's code caches: the heavy commands (build, pull, run, ...) each get
 * one of their own in the user's cache dir, made after their first run that
 * succeeded, since the shared one beside the bundle (made by `--help`) holds
 * few of the functions they run.
 */
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/index.js';
import { makeTempDir, removeTempDir, writeSmallImage } from '../store/support.js';

const RIBO = fileURLToPath(new URL('../../../bin/ribo', import.meta.url));

describe("bin/ribo's code caches", () => {
  let dir: string;
  let cacheDir: string;
  beforeEach(async () => {
    dir = makeTempDir('code-cache');
    cacheDir = path.join(dir, 'home', '.cache', 'ribo');
    const store = await Store.open(path.join(dir, 'store'));
    await store.tag('app', (await writeSmallImage(store)).manifest);
  });
  afterEach(() => removeTempDir(dir));

  /** Runs `node bin/ribo --root STORE ...args` with HOME in the test's dir. */
  const ribo = (...args: string[]) => execa('node', [RIBO, '--root', path.join(dir, 'store'), ...args], { env: { HOME: path.join(dir, 'home'), XDG_CACHE_HOME: '' }, reject: false });
  const cached = async () => (await fs.readdir(cacheDir).catch(() => [] as string[])).filter((name) => name.endsWith('.cache'));

  it("makes a command's own cache after its first successful run, and uses it after", async () => {
    // Not for help, nor after a failure: those runs compiled little of the command.
    expect((await ribo('save', '--help')).exitCode).toBe(0);
    expect((await ribo('save', '-o', path.join(dir, 'x.tar'), 'no-such-image')).exitCode).not.toBe(0);
    // Nor for a command without one.
    expect((await ribo('images')).exitCode).toBe(0);
    expect(await cached()).toEqual([]);

    expect((await ribo('save', '-o', path.join(dir, 'a.tar'), 'app')).exitCode).toBe(0);
    const [own] = await cached();
    expect(own).toMatch(/^code-\d+-v[\d.]+\.save\.cache$/);
    const made = (await fs.stat(path.join(cacheDir, own!))).mtimeMs;
    // The next run reads it and writes nothing.
    expect((await ribo('save', '-o', path.join(dir, 'b.tar'), 'app')).exitCode).toBe(0);
    expect(await cached()).toEqual([own]);
    expect((await fs.stat(path.join(cacheDir, own!))).mtimeMs).toBe(made);
  });

  it('drops the caches of other bundles when it writes one', async () => {
    await fs.mkdir(cacheDir, { recursive: true });
    await fs.writeFile(path.join(cacheDir, 'code-1-v20.0.0.save.cache'), 'stale');
    expect((await ribo('save', '-o', path.join(dir, 'a.tar'), 'app')).exitCode).toBe(0);
    const names = await cached();
    expect(names).toHaveLength(1);
    expect(names[0]).not.toBe('code-1-v20.0.0.save.cache');
  });
});
