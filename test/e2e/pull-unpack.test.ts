/**
 * `ribo pull` unpacks each layer while it downloads, several layers at once,
 * in a worker thread (layer/apply-worker.ts). What a user checks: every layer
 * ends up in `layers/<diffID>/` with its files, and a bad layer in the middle
 * of the others leaves nothing of itself: no unpacked dir, no scratch dir,
 * no blob when its bytes are not the digest's, no tag.
 */
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeStore, removeStore, ribo, riboOk } from './harness.js';
import { startRegistry, type RunningRegistry } from '../setup/registry.js';

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Layer {
  tar: Buffer;
  blob: Buffer;
  diffID: string;
  digest: string;
  /** A file of the layer and its content. */
  file: { path: string; content: Buffer };
}

let work: string;
let registry: RunningRegistry;
const stores: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-pull-unpack-'));
  registry = await startRegistry();
});

afterAll(async () => {
  await registry?.stop();
  for (const store of stores) await removeStore(store).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

async function store(): Promise<string> {
  const dir = await makeStore();
  stores.push(dir);
  return dir;
}

/** A gzip layer with a few MB of random data in `name/data` and a small file beside it; `damage` alters its tar before it is compressed. */
async function makeLayer(name: string, damage?: (tar: Buffer) => void): Promise<Layer> {
  const stage = await mkdtemp(path.join(work, 'stage-'));
  const content = randomBytes(3 * 1024 * 1024 + 123);
  await mkdir(path.join(stage, name));
  await writeFile(path.join(stage, name, 'data'), content);
  await writeFile(path.join(stage, name, 'note'), `layer ${name}\n`);
  const { stdout } = await execa('tar', ['-C', stage, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-cf', '-', name], { encoding: 'buffer' });
  const tar = Buffer.from(stdout);
  damage?.(tar);
  const blob = gzipSync(tar);
  return { tar, blob, diffID: sha256(tar), digest: sha256(blob), file: { path: `${name}/data`, content } };
}

/** Pushes an image of `layers` (their digests and diffIDs as given) to the registry by plain HTTP, trusting nothing ribo does. */
async function pushImage(repository: string, layers: Layer[]): Promise<void> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) } });
  const host = registry.host;
  for (const body of [Buffer.from(config), ...layers.map((l) => l.blob)]) {
    const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', sha256(body));
    const put = await fetch(location, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: Buffer.byteLength(config) },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.blob.length })),
  };
  const put = await fetch(`http://${host}/v2/${repository}/manifests/1`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': manifest.mediaType } });
  expect(put.status).toBe(201);
}

const listed = (dir: string) => readdir(dir).catch(() => [] as string[]);
const tagged = async (root: string) => JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')).manifests as unknown[];

describe('ribo pull, layers unpacked in parallel while they download', () => {
  it('unpacks every layer into layers/<diffID>/ with its files', async () => {
    const layers = [await makeLayer('one'), await makeLayer('two'), await makeLayer('three')];
    await pushImage('e2e/parallel', layers);
    const root = await store();
    await riboOk(['pull', '-q', `${registry.host}/e2e/parallel:1`], { root });
    expect((await listed(path.join(root, 'layers'))).sort()).toEqual(layers.map((l) => l.diffID.slice(7)).sort());
    for (const layer of layers) {
      const dir = path.join(root, 'layers', layer.diffID.slice(7));
      expect(sha256(await readFile(path.join(dir, layer.file.path)))).toBe(sha256(layer.file.content));
    }
    expect(await tagged(root)).toHaveLength(1);
    expect(await listed(path.join(root, 'tmp'))).toEqual([]);
  });

  it('a layer whose tar is damaged, between two good ones: the pull fails naming it, and nothing of it is unpacked', async () => {
    // Its digest and diffID are those of the damaged bytes: only unpacking it can tell.
    const damaged = await makeLayer('bad', (tar) => {
      tar[tar.indexOf('bad/note\0') + 100] ^= 0x01; // the mode field of the second file's header: its checksum no longer matches
    });
    const layers = [await makeLayer('left'), damaged, await makeLayer('right')];
    await pushImage('e2e/damaged', layers);
    const root = await store();
    const result = await ribo(['pull', `${registry.host}/e2e/damaged:1`], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`Layer ${damaged.digest} of image ${registry.host}/e2e/damaged:1`);
    expect(result.stderr).toContain('header checksum does not match');
    expect(await listed(path.join(root, 'layers'))).not.toContain(damaged.diffID.slice(7));
    expect(await listed(path.join(root, 'tmp'))).toEqual([]);
    expect(await tagged(root)).toEqual([]);
  });

  it('a blob the registry serves altered, between two good ones: no blob, no unpacked layer, no scratch dir, no tag', async () => {
    const altered = await makeLayer('altered');
    const layers = [await makeLayer('first'), altered, await makeLayer('last')];
    await pushImage('e2e/altered', layers);
    // The registry's own copy changed after the push, same size: what a bad disk or a tampering mirror serves.
    const stored = path.join(registry.dataDir, 'docker/registry/v2/blobs/sha256', altered.digest.slice(7, 9), altered.digest.slice(7), 'data');
    const bytes = await readFile(stored);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(stored, bytes);
    await chmod(stored, 0o644);
    const root = await store();
    const result = await ribo(['pull', `${registry.host}/e2e/altered:1`], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`Blob ${altered.digest} of ${registry.host}/e2e/altered:1, as the registry served it, does not match its digest`);
    expect(await listed(path.join(root, 'blobs/sha256'))).not.toContain(altered.digest.slice(7));
    expect(await listed(path.join(root, 'layers'))).not.toContain(altered.diffID.slice(7));
    expect(await listed(path.join(root, 'tmp'))).toEqual([]);
    expect(await tagged(root)).toEqual([]);
  });
});
