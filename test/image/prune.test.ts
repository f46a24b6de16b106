import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pruneStore } from '../../src/image/prune.js';
import { Store } from '../../src/store/index.js';
import { LayerSizes } from '../../src/store/layer-sizes.js';
import type { Digest } from '../../src/oci/image.js';
import { listDir, makeTempDir, removeTempDir, writeSmallImage } from '../store/support.js';
import { spawn } from 'node:child_process';
import { containerLayers, ContainerStore } from '../../src/run/containers.js';
import { containerFields } from '../run/support.js';

describe('pruneStore', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('prune');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  const nothingKept = async () => new Set<Digest>();
  const sizesDir = () => path.join(store.root, 'layer-sizes');

  it('forgets untagged images, deletes their blobs and the sizes kept of their layers, and keeps tagged ones', async () => {
    const old = await writeSmallImage(store, { files: { 'old.txt': 'old\n' } });
    const current = await writeSmallImage(store, { files: { 'new.txt': 'new\n' } });
    await store.tag('app', old.manifest);
    await store.tag('app', current.manifest);
    const sizes = new LayerSizes(store.root);
    await sizes.put(old.configJSON.rootfs.diff_ids[0]!, 4);
    await sizes.put(current.configJSON.rootfs.diff_ids[0]!, 4);

    const dry = await pruneStore(store, { keep: nothingKept, dryRun: true });
    expect(dry.images).toEqual([{ digest: old.manifest.digest, id: old.config.digest }]);
    expect((await store.indexEntries()).map((e) => e.digest).sort()).toEqual([current.manifest.digest, old.manifest.digest].sort());
    expect(await listDir(sizesDir())).toHaveLength(2);

    const report = await pruneStore(store, { keep: nothingKept });
    expect(report.images).toEqual([{ digest: old.manifest.digest, id: old.config.digest }]);
    expect(report.blobs.map((b) => b.digest).sort()).toEqual([old.manifest.digest, old.config.digest, old.layer.digest].sort());
    expect((await store.indexEntries()).map((e) => e.digest)).toEqual([current.manifest.digest]);
    expect(await listDir(sizesDir())).toEqual([current.configJSON.rootfs.diff_ids[0]!.slice(7)]);
    expect(await store.hasBlob(current.layer.digest)).toBe(true);
    expect((await store.resolveImage('app')).manifestDescriptor.digest).toBe(current.manifest.digest);
  });

  it('keeps the size of a layer the caller keeps (the build cache\'s)', async () => {
    const image = await writeSmallImage(store);
    const diffID = image.configJSON.rootfs.diff_ids[0]! as Digest;
    await new LayerSizes(store.root).put(diffID, 16);
    await pruneStore(store, { keep: async () => new Set([diffID, image.layer.digest]) });
    expect(await new LayerSizes(store.root).get(diffID)).toBe(16);
    await pruneStore(store, { keep: nothingKept });
    expect(await fs.readdir(sizesDir())).toEqual([]);
  });

  it('collects inside the lock it is given: a layer a planned run records meanwhile stays', async () => {
    const diffID = `sha256:${'c'.repeat(64)}` as Digest;
    await fs.mkdir(store.layerDir(diffID), { recursive: true });
    const containers = ContainerStore.ofStore(store.root);
    await fs.mkdir(containers.dir, { recursive: true });
    await fs.writeFile(`${containers.dir}.lock`, '');
    // A planned run (bin/run-plan-record.sh): flock(1) holds containers.lock while the record is written.
    const run = spawn('flock', ['--exclusive', `${containers.dir}.lock`, 'sh', '-c', 'read line'], { stdio: ['pipe', 'ignore', 'inherit'] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    let done = false;
    const pruning = pruneStore(store, { keep: () => containerLayers(store.root), exclusive: (collect) => containers.whileNoneRecorded(collect) }).then((report) => {
      done = true;
      return report;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    // The record names the layer as a lower dir, then the run lets the lock go.
    const id = 'd'.repeat(64);
    await fs.mkdir(containers.dirOf(id));
    const fields = containerFields();
    const record = { ...fields, id, name: 'calm_crane1', created: new Date().toISOString(), runtimeId: 'ribo-dddddddddddd', status: 'running', monitor: { pid: process.pid, start: 0 }, plan: { ...fields.plan, lowers: [store.layerDir(diffID)] } };
    await fs.writeFile(path.join(containers.dirOf(id), 'state.json'), JSON.stringify(record));
    run.stdin.end('\n');
    const report = await pruning;
    expect(report.layers).toEqual([]);
    expect((await fs.stat(store.layerDir(diffID))).isDirectory()).toBe(true);
  });
});
