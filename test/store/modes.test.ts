import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store, StoreLayoutError } from '../../src/store/index.js';

let dir: string;
const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o777;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ribo-modes-'));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('Store.open and who can read the store', () => {
  it('creates the root and its missing parents 0700, as ~/.local/share should be', async () => {
    const root = path.join(dir, '.local', 'share', 'ribo');
    await Store.open(root);
    for (const made of [path.join(dir, '.local'), path.join(dir, '.local', 'share'), root]) expect([made, await modeOf(made)]).toEqual([made, 0o700]);
  });

  it('refuses a root it cannot make with an error naming the path and why, not an internal error', async () => {
    await fs.writeFile(path.join(dir, 'file'), 'x');
    const root = path.join(dir, 'file', 'ribo');
    const refused = await Store.open(root).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(StoreLayoutError);
    expect((refused as Error).message).toContain(`ribo cannot create or open ${root} (a part of that path is a file, not a directory)`);
    expect((refused as Error).message).toContain('Point --root (or RIBO_ROOT) at another directory');
  });

  it('refuses a root on /proc or /sys, naming the file system, before making anything there', async () => {
    for (const root of ['/proc/ribo-none/store', '/sys/ribo-none', '/proc/self/ribo']) {
      const refused = await Store.open(root).then(() => undefined, (error: unknown) => error);
      expect(refused).toBeInstanceOf(StoreLayoutError);
      expect((refused as Error).message).toMatch(/ is on the kernel's \/(proc|sys) file system/);
    }
  });

  it('tightens a root an earlier ribo made 0755, and leaves existing parents alone', async () => {
    const root = path.join(dir, 'ribo');
    await fs.mkdir(root, { mode: 0o755 });
    await fs.chmod(root, 0o755);
    await fs.chmod(dir, 0o755);
    await Store.open(root);
    expect(await modeOf(root)).toBe(0o700);
    expect(await modeOf(dir)).toBe(0o755);
  });

  it('writes nothing when it opens an existing store', async () => {
    const root = path.join(dir, 'ribo');
    await Store.open(root);
    // A temp file made and removed again in ingest/ or the root changes that directory's mtime.
    const watched = ['index.json', 'oci-layout', 'ingest', '.'].map((name) => path.join(root, name));
    const mtimes = () => Promise.all(watched.map(async (file) => (await fs.stat(file)).mtimeMs));
    const before = await mtimes();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Store.open(root);
    expect(await mtimes()).toEqual(before);
  });
});
