import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotation, type ImageIndex } from '../../src/oci/image.js';
import { Store } from '../../src/store/index.js';
import { listDir, makeTempDir, removeTempDir } from './support.js';

const WORKER = fileURLToPath(new URL('./fixtures/worker.js', import.meta.url));

function startWorker(...args: string[]): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(process.execPath, [WORKER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const done = new Promise<string>((resolve, reject) => {
    child.once('close', (code, signal) =>
      code === 0 ? resolve(stdout) : reject(new Error(`worker ${args.join(' ')} failed (${code ?? signal}): ${stderr}`)),
    );
  });
  return { child, done };
}

function waitForOutput(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: string) => {
      seen += chunk;
      if (seen.includes(text)) resolve();
    });
    child.once('close', () => reject(new Error(`worker exited before printing ${text}`)));
  });
}

describe('Store with several processes', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = makeTempDir('store-procs');
    root = path.join(dir, 'root');
  });
  afterEach(() => removeTempDir(dir));

  it('keeps every tag when two processes ingest and tag at the same time', async () => {
    const count = 15;
    const workers = ['alpha', 'beta'].map((name) => startWorker('tag', root, name, String(count)));
    await Promise.all(workers.map((worker) => worker.done));

    const index = JSON.parse(await fs.readFile(path.join(root, 'index.json'), 'utf8')) as ImageIndex;
    const refs = index.manifests.map((entry) => entry.annotations?.[Annotation.refName]).sort();
    const expected = ['alpha', 'beta'].flatMap((name) => Array.from({ length: count }, (_, i) => `${name}:${i}`)).sort();
    expect(refs).toEqual(expected);

    const store = await Store.open(root);
    for (const ref of expected) {
      const image = await store.resolveImage(ref);
      expect(image.config.config?.Labels).toEqual({ worker: ref.split(':')[0], index: ref.split(':')[1] });
    }
    expect(await listDir(path.join(root, 'ingest'))).toEqual([]);
  });

  it('removes ingest files and temp dirs of a process that died, and keeps those of live ones', async () => {
    const store = await Store.open(root);
    const { child, done } = startWorker('hang', root);
    await waitForOutput(child, 'ready');
    const ours = await store.ingest();
    ours.stream.write('still writing');
    const ourTemp = await store.makeTempDir('mine');
    const foreign = path.join(root, 'tmp', 'not-made-by-ribo');
    await fs.mkdir(foreign);

    expect(await listDir(path.join(root, 'ingest'))).toHaveLength(2);
    expect(await listDir(path.join(root, 'tmp'))).toHaveLength(3);
    // While the worker lives, opening the store must not touch its files.
    await Store.open(root);
    expect(await listDir(path.join(root, 'ingest'))).toHaveLength(2);
    expect(await listDir(path.join(root, 'tmp'))).toHaveLength(3);

    child.kill('SIGKILL');
    await expect(done).rejects.toThrow(/SIGKILL/);
    await Store.open(root);

    expect(await listDir(path.join(root, 'tmp'))).toEqual([path.basename(ourTemp), 'not-made-by-ribo'].sort());
    expect(await listDir(path.join(root, 'ingest'))).toHaveLength(1);
    const committed = await ours.commit();
    expect(await store.hasBlob(committed.digest)).toBe(true);
  });

  it('removes temp files of the build cache index left by a process that died', async () => {
    await Store.open(root);
    const steps = path.join(root, 'cache', 'steps');
    await fs.mkdir(steps, { recursive: true });
    const { child, done } = startWorker('hang', root);
    await waitForOutput(child, 'ready');
    const hash = 'ab'.repeat(32);
    const dead = `${hash}.${child.pid}.0badf00d.tmp`;
    const live = `${hash}.${process.pid}.c0ffee00.tmp`;
    for (const name of [dead, live, hash]) await fs.writeFile(path.join(steps, name), '{}');
    child.kill('SIGKILL');
    await expect(done).rejects.toThrow(/SIGKILL/);
    await Store.open(root);
    expect(await listDir(steps)).toEqual([hash, live].sort());
  });

  it('treats a recycled pid with a different start time as dead', async () => {
    await Store.open(root);
    // Our own pid, but a start time this process never had.
    const impostor = path.join(root, 'tmp', `${process.pid}.1-build-abcdef`);
    const genuine = path.join(root, 'ingest', `${process.pid}.${await ownStartTime()}-blob-abcdef`);
    await fs.mkdir(impostor);
    await fs.writeFile(genuine, 'x');
    await Store.open(root);
    expect(await listDir(path.join(root, 'tmp'))).toEqual([]);
    expect(await listDir(path.join(root, 'ingest'))).toEqual([path.basename(genuine)]);
  });

  it('unpacks a layer once when two processes race for it', async () => {
    const diffID = `sha256:${'ab'.repeat(32)}`;
    const workers = [startWorker('unpack', root, diffID), startWorker('unpack', root, diffID)];
    const outputs = await Promise.all(workers.map((worker) => worker.done));
    const store = await Store.open(root);
    const final = store.layerDir(diffID);
    expect(outputs.map((output) => output.trim())).toEqual([final, final]);
    expect((await fs.readdir(final)).sort()).toEqual(['done', 'owner']);
    const winner = Number(await fs.readFile(path.join(final, 'owner'), 'utf8'));
    expect(workers.map((worker) => worker.child.pid)).toContain(winner);
    expect(await listDir(path.join(root, 'tmp'))).toEqual([]);
  });
});

async function ownStartTime(): Promise<string> {
  const stat = await fs.readFile('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}
