/**
 * One image, many spellings: an image stored under docker.io/library/NAME is
 * found as NAME, docker.io/NAME, library/NAME... by FROM, COPY --from, run,
 * tag, rmi, save, inspect and history, without trying to pull (no registry
 * is reachable here, so a pull attempt would fail the command). As the
 * unprivileged user.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { makeContext, makeStore, readImage, removeStore, ribo, riboOk, type RiboResult } from './harness.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
let root: string;
let work: string;
const opts = () => ({ root });
const cleanups: Array<() => Promise<unknown>> = [];

async function indexNames(): Promise<string[]> {
  const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8'));
  return index.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations?.[REF_NAME]).sort();
}

/** Succeeds, and never went near a registry. */
async function offline(args: string[]): Promise<RiboResult> {
  const result = await riboOk(args, opts());
  expect(result.stderr).not.toMatch(/pull/i);
  return result;
}

async function build(dockerfile: string, tag: string): Promise<RiboResult> {
  const context = await makeContext({ Dockerfile: dockerfile });
  cleanups.push(() => execa('rm', ['-rf', context]));
  return offline(['build', '-q', '-t', tag, context]);
}

beforeAll(async () => {
  root = await makeStore();
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-refs-'));
  // A rootfs of busybox and one marker file, imported as docker.io/library/refbase:latest.
  const rootfs = path.join(work, 'rootfs');
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await mkdir(path.join(rootfs, 'etc'));
  await execa('cp', ['/bin/busybox', path.join(rootfs, 'bin/busybox')]);
  for (const tool of ['sh', 'cat', 'ls']) await symlink('busybox', path.join(rootfs, 'bin', tool));
  await writeFile(path.join(rootfs, 'etc/marker'), 'from refbase\n');
  await execa('tar', ['-C', rootfs, '-cf', path.join(work, 'rootfs.tar'), '.']);
  await execa('chmod', ['-R', 'a+rwX', work]);
  await offline(['import', path.join(work, 'rootfs.tar'), 'docker.io/library/refbase:latest']);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await removeStore(root);
  await rm(work, { recursive: true, force: true });
});

it('keys the store by the familiar name and lists it as docker does', async () => {
  expect(await indexNames()).toEqual(['refbase:latest']);
  const { stdout } = await offline(['images']);
  expect(stdout).toMatch(/^refbase\s+latest\s/m);
});

it('finds a name an earlier ribo stored in full, by every spelling', async () => {
  // What `ribo pull ubuntu` of earlier versions wrote: the full name, verbatim.
  const indexFile = path.join(root, 'index.json');
  const index = JSON.parse(await readFile(indexFile, 'utf8'));
  index.manifests[0].annotations[REF_NAME] = 'docker.io/library/refbase:latest';
  await writeFile(indexFile, JSON.stringify(index));
  const digest = index.manifests[0].digest;
  for (const spelling of ['refbase', 'refbase:latest', 'library/refbase', 'docker.io/refbase', 'docker.io/library/refbase:latest', `refbase@${digest}`]) {
    const [image] = JSON.parse((await offline(['inspect', spelling])).stdout);
    expect([spelling, image.Digest, image.RepoTags]).toEqual([spelling, digest, ['refbase:latest']]);
  }
  expect((await offline(['images'])).stdout).toMatch(/^refbase\s+latest\s/m);
});

it('FROM and COPY --from find the stored image by its other spellings', async () => {
  await build('FROM docker.io/refbase\nCOPY --from=docker.io/library/refbase /etc/marker /copied\nRUN cat /etc/marker /copied > /ran\n', 'docker.io/library/derived');
  await build('FROM refbase:latest\nCOPY --from=library/refbase /etc/marker /copied-again\n', 'docker.io/derived2:1');
  expect(await indexNames()).toEqual(['derived2:1', 'derived:latest', 'docker.io/library/refbase:latest']);
  const derived = await readImage(root, 'derived:latest');
  const base = await readImage(root, 'docker.io/library/refbase:latest');
  expect(derived.manifest.layers[0]!.digest).toBe(base.manifest.layers[0]!.digest);
  const run = await offline(['run', '--rm', 'docker.io/library/derived:latest', 'cat', '/ran']);
  expect(run.stdout).toBe('from refbase\nfrom refbase');
  expect((await offline(['run', '--rm', 'derived2:1', 'cat', '/copied-again'])).stdout).toBe('from refbase');
  expect((await offline(['history', 'docker.io/library/derived'])).stdout).toContain('COPY');
});

it('ribo run takes docker.io/NAME:latest and NAME alike', async () => {
  for (const spelling of ['docker.io/refbase:latest', 'refbase', 'index.docker.io/library/refbase']) {
    const result = await offline(['run', '--rm', spelling, 'cat', '/etc/marker']);
    expect([spelling, result.stdout]).toEqual([spelling, 'from refbase']);
  }
});

it('tag, save and rmi take any spelling and write the familiar one', async () => {
  await offline(['tag', 'docker.io/refbase', 'docker.io/library/refbase:v2']);
  expect(await indexNames()).toContain('refbase:v2');
  const [image] = JSON.parse((await offline(['inspect', 'refbase:v2'])).stdout);
  expect(image.RepoTags).toEqual(['refbase:latest', 'refbase:v2']);

  const archive = path.join(work, 'saved.tar');
  await offline(['save', '--format', 'docker-archive', '-o', archive, 'docker.io/library/refbase:v2']);
  const manifest = JSON.parse((await execa('tar', ['-xOf', archive, 'manifest.json'])).stdout);
  expect(manifest[0].RepoTags).toEqual(['refbase:v2']);

  const removed = await offline(['rmi', 'docker.io/refbase:v2']);
  expect(removed.stdout).toBe('Untagged: refbase:v2');
  expect(await indexNames()).not.toContain('refbase:v2');
  // Retagging the old full spelling replaces it with the familiar one.
  await offline(['tag', 'refbase', 'refbase:latest']);
  expect(await indexNames()).toEqual(['derived2:1', 'derived:latest', 'refbase:latest']);
});

it('refuses an upper-case repository, naming the reference', async () => {
  for (const args of [['run', '--rm', 'docker.io/RefBase'], ['tag', 'refbase', 'Refbase:2'], ['inspect', 'library/RefBase']]) {
    const result = await ribo(args, opts());
    const given = args[args.length - 1];
    expect([args, result.exitCode]).toEqual([args, 2]);
    expect(result.stderr).toContain(`"${given}" is not a valid image reference`);
    expect(result.stderr).toMatch(/must be lower-case/);
    expect(result.stderr).not.toMatch(/pull/i);
  }
  const context = await makeContext({ Dockerfile: 'FROM docker.io/RefBase\n' });
  cleanups.push(() => execa('rm', ['-rf', context]));
  const built = await ribo(['build', context], opts());
  expect(built.exitCode).not.toBe(0);
  expect(built.stderr).toMatch(/Dockerfile:1: "docker\.io\/RefBase" is not a valid image reference: the repository "RefBase" must be lower-case/);
});
