import path from 'node:path';
import { imageLayerChanges, type PathChange } from '../../src/image/layer-changes.js';
import { Store } from '../../src/store/index.js';
import { makeTempDir, removeTempDir, storeImage } from './support.js';

describe('imageLayerChanges', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('layer-changes');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  async function changesOf(layers: Parameters<typeof storeImage>[2]) {
    await storeImage(store, 'img', layers);
    return imageLayerChanges(store, await store.resolveImage('img'), 'img');
  }
  const simple = (changes: PathChange[]) => changes.map((c) => `${c.kind[0]!.toUpperCase()} ${c.path} ${c.size}`);

  it('tells added from changed files, and ignores parent dirs repeated unchanged', async () => {
    const result = await changesOf([
      [{ path: 'etc/' }, { path: 'etc/a', content: 'one' }],
      [{ path: 'etc/' }, { path: 'etc/a', content: 'three' }, { path: 'etc/b', content: 'bb' }],
      [{ path: 'etc/', mode: 0o700 }],
    ]);
    expect(simple(result.layers[0]!.changes)).toEqual(['A /etc 0', 'A /etc/a 3']);
    expect(simple(result.layers[1]!.changes)).toEqual(['C /etc/a 5', 'A /etc/b 2']);
    expect(simple(result.layers[2]!.changes)).toEqual(['C /etc 0']);
    expect(result.layers[1]!.changed).toEqual({ count: 1, bytes: 5 });
    expect(result.totalBytes).toBe(7);
    expect(result.wastedBytes).toBe(3);
  });

  it('reports a deleted file and a deleted dir with everything under it', async () => {
    const result = await changesOf([
      [{ path: 'a.txt', content: '12345' }, { path: 'd/' }, { path: 'd/x', content: 'xx' }, { path: 'd/sub/' }, { path: 'd/sub/y', content: 'yyy' }],
      [{ path: '.wh.a.txt' }, { path: '.wh.d' }],
    ]);
    expect(simple(result.layers[1]!.changes)).toEqual(['D /a.txt 5', 'D /d 5']);
    expect(result.layers[1]!.deleted).toEqual({ count: 2, bytes: 10 });
    expect(result.totalBytes).toBe(0);
    expect(result.wastedBytes).toBe(10);
  });

  it('follows a dir replaced by a file and back', async () => {
    const result = await changesOf([
      [{ path: 'p/' }, { path: 'p/inner', content: 'abc' }],
      [{ path: 'p', content: 'now a file' }],
      [{ path: 'p/' }, { path: 'p/again', content: 'z' }],
    ]);
    expect(simple(result.layers[1]!.changes)).toEqual(['C /p 10']);
    expect(simple(result.layers[2]!.changes)).toEqual(['C /p 0', 'A /p/again 1']);
    expect(result.layers[2]!.changes[0]!.type).toBe('directory');
    expect(result.wastedBytes).toBe(13);
  });

  it('treats an opaque dir as deleting what lower layers had in it, but not what it writes', async () => {
    const result = await changesOf([
      [{ path: 'o/' }, { path: 'o/old', content: 'old' }, { path: 'o/keep', content: 'k' }, { path: 'o/deep/' }, { path: 'o/deep/f', content: 'ff' }],
      [{ path: 'o/' }, { path: 'o/.wh..wh..opq' }, { path: 'o/keep', content: 'kk' }, { path: 'o/new', content: 'n' }],
    ]);
    expect(simple(result.layers[1]!.changes)).toEqual(['D /o/deep 2', 'C /o/keep 2', 'A /o/new 1', 'D /o/old 3']);
  });

  it('shows links with their targets and matches layers to their history', async () => {
    await storeImage(store, 'img', [[{ path: 'f', content: 'data' }, { path: 'l', type: 'symlink', linkTarget: 'f' }, { path: 'h', type: 'hardlink', linkTarget: 'f' }]], ['COPY f /']);
    const result = await imageLayerChanges(store, await store.resolveImage('img'), 'img');
    expect(result.layers[0]!.createdBy).toBe('COPY f /');
    expect(result.layers[0]!.changes).toEqual([
      { kind: 'added', path: '/f', type: 'file', size: 4 },
      { kind: 'added', path: '/h', type: 'hardlink', size: 0, linkTarget: 'f' },
      { kind: 'added', path: '/l', type: 'symlink', size: 0, linkTarget: 'f' },
    ]);
  });
});
