/**
 * ribo against a real registry on loopback (Debian's docker-registry): push
 * and pull, interop with skopeo, FROM of a registry image, the build cache
 * through a registry, and pulls that go wrong (a corrupted blob, a pull killed
 * midway).
 */
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { blobPath, PROJECT_ROOT, makeContext, makeStore, readImage, removeStore, ribo, riboOk, spawnRibo } from './harness.js';
import { blobGets, startProxy, startRegistry, type RunningRegistry } from '../setup/registry.js';

let registry: RunningRegistry;
const cleanups: Array<() => Promise<unknown>> = [];

async function store(): Promise<string> {
  const dir = await makeStore();
  cleanups.push(() => removeStore(dir));
  return dir;
}

async function context(files: Record<string, string | Buffer>, fixture?: string): Promise<string> {
  const dir = await makeContext(Object.fromEntries(Object.entries(files).filter(([, v]) => typeof v === 'string')) as Record<string, string>, fixture);
  for (const [name, content] of Object.entries(files)) if (Buffer.isBuffer(content)) await (await import('node:fs/promises')).writeFile(path.join(dir, name), content, { mode: 0o644 });
  cleanups.push(() => execa('rm', ['-rf', dir]));
  return dir;
}

async function indexRefs(root: string): Promise<string[]> {
  const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8'));
  return index.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name']);
}

/** The diffIDs (hex) unpacked under layers/, sorted. */
async function unpackedLayers(root: string): Promise<string[]> {
  return (await readdir(path.join(root, 'layers')).catch(() => [])).filter((name) => /^[0-9a-f]{64}$/.test(name)).sort();
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(() => true, () => false);
}

/** An image with a small layer and a big, incompressible one; returns its store and layer digests. */
async function buildTwoLayerImage(name: string, bigBytes: number): Promise<{ root: string; small: string; big: string; config: string }> {
  const root = await store();
  const ctx = await context({ Dockerfile: 'FROM scratch\nCOPY small.txt /small.txt\nCOPY big.bin /big.bin\n', 'small.txt': 'small\n', 'big.bin': randomBytes(bigBytes) });
  await riboOk(['build', '-q', '-t', name, ctx], { root });
  const image = await readImage(root, name);
  return { root, small: image.manifest.layers[0]!.digest, big: image.manifest.layers[1]!.digest, config: image.manifest.config.digest };
}

beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await registry.stop();
});

it('pushes an image ribo built, pulls it into an empty store, and runs it', async () => {
  const source = await store();
  const ctx = await context({}, 'hello');
  const name = `${registry.host}/e2e/hello:1`;
  await riboOk(['build', '-q', '-t', name, ctx], { root: source });
  // Small chunks, so the layer with busybox goes up in several PATCH requests.
  const pushed = await riboOk(['push', '--chunk-size', '256k', name], { root: source });
  expect(pushed.stderr).toMatch(/uploaded/);

  const target = await store();
  const pulled = await riboOk(['pull', name], { root: target });
  expect(pulled.stdout.trim()).toBe((await readImage(source, name)).index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name)!.digest);
  expect(await indexRefs(target)).toEqual([name]);
  // Each layer was unpacked while it downloaded (bin/ribo runs `pull` in ribo's namespace): the first run finds them all.
  const diffIDs = (await readImage(target, name)).config.rootfs.diff_ids.map((d: string) => d.slice('sha256:'.length));
  expect(await unpackedLayers(target)).toEqual([...new Set(diffIDs)].sort());
  expect(await readdir(path.join(target, 'tmp'))).toEqual([]);
  const run = await riboOk(['run', '--rm', name], { root: target });
  expect(run.stdout).toContain('Hello from a ribo container!');
  expect(run.stdout).toContain('kept.txt');

  // Two steps that change nothing alike make one layer blob twice: pushed and fetched once.
  const repeated = `${registry.host}/e2e/repeated:1`;
  const ctx2 = await context({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "true"]\nRUN ["/bin/busybox", "true"]\nCMD ["/bin/busybox", "echo", "twice"]\n' }, 'hello');
  await riboOk(['build', '-q', '-t', repeated, ctx2], { root: source });
  const layers = (await readImage(source, repeated)).manifest.layers.map((l) => l.digest);
  expect(layers).toHaveLength(3);
  expect(layers[1]).toBe(layers[2]);
  // (busybox's layer is already in e2e/hello, so it is mounted from there)
  expect((await riboOk(['push', repeated], { root: source })).stderr).toMatch(/2 blob\(s\) uploaded, 1 mounted/);
  expect((await riboOk(['pull', repeated], { root: target })).stderr).toMatch(/2 blob\(s\) fetched, 1 already in the store/);
  expect((await riboOk(['run', '--rm', repeated], { root: target })).stdout.trim()).toBe('twice');

  // Pulling again fetches nothing; pushing to another repository mounts instead of uploading.
  const again = await riboOk(['pull', name], { root: target });
  expect(again.stderr).toMatch(/0 blob\(s\) fetched/);
  const mounted = await riboOk(['push', name, `${registry.host}/e2e/other:2`], { root: source });
  expect(mounted.stderr).toMatch(/0 blob\(s\) uploaded, \d+ mounted/);
  const skopeo = await execa('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/e2e/other:2`]);
  expect(JSON.parse(skopeo.stdout).Layers.length).toBe((await readImage(source, name)).manifest.layers.length);
});

it('runs an image that is not in the store by pulling it first; --pull never and always do what they say', async () => {
  const source = await store();
  const name = `${registry.host}/e2e/autopull:1`;
  const build = async (word: string) => {
    const ctx = await context({ Dockerfile: `FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "${word}"]\n` }, 'hello');
    await riboOk(['build', '-q', '-t', name, ctx], { root: source });
    await riboOk(['push', '-q', name], { root: source });
    return (await readImage(source, name)).index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name)!.digest;
  };
  await build('first');
  const target = await store();

  const never = await ribo(['run', '--rm', '--pull', 'never', name], { root: target });
  expect(never.exitCode).toBe(1);
  expect(never.stderr).toContain(`No image "${name}"`);
  expect(await indexRefs(target)).toEqual([]);

  const pulled = await riboOk(['run', '--rm', name], { root: target });
  expect(pulled.stdout.trim()).toBe('first');
  expect(pulled.stderr).toContain(`${name} is not in the store; pulling`);
  expect(await indexRefs(target)).toEqual([name]);

  // The registry's tag moves on: the default runs what the store has, --pull always fetches the new one.
  const second = await build('second');
  const local = await riboOk(['run', '--rm', name], { root: target });
  expect(local.stdout.trim()).toBe('first');
  expect(local.stderr).not.toContain('pulling');
  expect((await riboOk(['run', '--rm', '--pull', 'always', name], { root: target })).stdout.trim()).toBe('second');

  // By digest, into a store that has nothing; the second run finds it there.
  const byDigest = `${registry.host}/e2e/autopull@${second}`;
  const empty = await store();
  expect((await riboOk(['run', '--rm', byDigest], { root: empty })).stdout.trim()).toBe('second');
  const again = await riboOk(['run', '--rm', byDigest], { root: empty });
  expect(again.stdout.trim()).toBe('second');
  expect(again.stderr).not.toContain('pulling');

  const absent = await ribo(['run', '--rm', `${registry.host}/e2e/absent:1`], { root: target });
  expect(absent.exitCode).toBe(1);
  expect(absent.stderr).toMatch(/No image "[^"]*absent:1" in the store .*ribo images.*, and pulling .*absent:1 failed/);
  const bad = await ribo(['run', '--rm', '--pull', 'sometimes', name], { root: target });
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toContain('--pull sometimes');
});

it('pulls an image that skopeo pushed in Docker schema 2 format', async () => {
  const source = await store();
  const ctx = await context({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nENV WHO=skopeo\nCMD ["/bin/busybox", "sh", "-c", "echo pushed by $WHO"]\n' }, 'hello');
  await riboOk(['build', '-q', '-t', 'viaskopeo:1', ctx], { root: source });
  await execa('skopeo', ['copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${source}:viaskopeo:1`, `docker://${registry.host}/skopeo/app:v2`]);

  const target = await store();
  await riboOk(['pull', `${registry.host}/skopeo/app:v2`], { root: target });
  const image = await readImage(target, `${registry.host}/skopeo/app:v2`);
  expect(image.manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  expect(image.manifest.layers[0]!.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
  expect((await riboOk(['run', '--rm', `${registry.host}/skopeo/app:v2`], { root: target })).stdout.trim()).toBe('pushed by skopeo');
});

it('pulls FROM and COPY --from images that are not in the store', async () => {
  const source = await store();
  const base = `${registry.host}/e2e/base:1`;
  await riboOk(['build', '-q', '-t', base, await context({}, 'hello')], { root: source });
  await riboOk(['push', base], { root: source });

  const target = await store();
  const ctx = await context({ Dockerfile: `FROM ${base}\nRUN echo on top > /top.txt\nCOPY --from=${base} /app/greeting.txt /copied.txt\nCMD ["cat", "/top.txt", "/copied.txt"]\n` });
  const built = await riboOk(['build', '-t', 'ontop:1', ctx], { root: target });
  expect(built.stderr).toContain(`Pulling ${base}`);
  const run = await riboOk(['run', '--rm', 'ontop:1'], { root: target });
  expect(run.stdout).toContain('on top');
  expect(run.stdout).toContain((await readFile(path.join(PROJECT_ROOT, 'fixtures/hello/greeting.txt'), 'utf8')).trim());
  expect(await indexRefs(target)).toEqual(expect.arrayContaining([base, 'ontop:1']));
});

it('gives a second, empty store full cache hits through --cache-from type=registry', async () => {
  const ctx = await context({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY app.txt /app.txt\nRUN wc -c /app.txt > /count\nCMD ["cat", "/count"]\n', 'app.txt': 'twelve bytes' }, 'hello');
  const cacheRef = `${registry.host}/e2e/cache:main`;
  const first = await store();
  const built = await riboOk(['build', '-t', 'cached:1', '--cache-to', `type=registry,ref=${cacheRef}`, ctx], { root: first });
  expect(built.stderr).toMatch(/Exported the build cache \(4 steps, 4 layers\)/);

  const second = await store();
  const again = await riboOk(['build', '-t', 'cached:1', '--cache-from', `type=registry,ref=${cacheRef}`, ctx], { root: second });
  const steps = again.stderr.split('\n').filter((l) => /^#\d+ \[stage-0 \d+\/\d+\] (CACHED )?(RUN|COPY)/.test(l));
  expect(steps).toHaveLength(4);
  expect(steps.every((l) => l.includes('] CACHED '))).toBe(true);
  expect(again.stdout.trim()).toBe(built.stdout.trim());
  expect((await riboOk(['run', '--rm', 'cached:1'], { root: second })).stdout).toContain('12 /app.txt');
});

it('refuses a blob the registry serves corrupted, and stores and tags nothing of it', async () => {
  const image = await buildTwoLayerImage(`${registry.host}/e2e/corrupt:1`, 256 * 1024);
  await riboOk(['push', `${registry.host}/e2e/corrupt:1`], { root: image.root });
  const proxy = await startProxy(registry.host, { corruptDigest: image.big });
  cleanups.push(() => proxy.stop());

  const target = await store();
  const pull = await ribo(['pull', `${proxy.host}/e2e/corrupt:1`], { root: target });
  expect(pull.exitCode).toBe(1);
  expect(pull.stderr).toContain(`Blob ${image.big}`);
  expect(pull.stderr).toMatch(/does not match its digest/);
  expect(pull.stderr).not.toMatch(/internal error/);
  expect(await indexRefs(target)).toEqual([]);
  expect(await exists(blobPath(target, image.big))).toBe(false);
  expect(await readdir(path.join(target, 'ingest'))).toEqual([]);
  // The layer was being unpacked while it came: none of it is published, nothing is left in tmp/.
  const bigDiffID = (await readImage(image.root, `${registry.host}/e2e/corrupt:1`)).config.rootfs.diff_ids[1].slice('sha256:'.length);
  expect(await unpackedLayers(target)).not.toContain(bigDiffID);
  expect(await readdir(path.join(target, 'tmp'))).toEqual([]);
});

it('goes on from where a cut download stopped, asking for the rest with a Range request', async () => {
  const image = await buildTwoLayerImage(`${registry.host}/e2e/cut:1`, 4 * 1024 * 1024);
  await riboOk(['push', `${registry.host}/e2e/cut:1`], { root: image.root });
  const proxy = await startProxy(registry.host, { cutOnceDigest: image.big });
  cleanups.push(() => proxy.stop());

  const target = await store();
  const pull = await riboOk(['pull', `${proxy.host}/e2e/cut:1`], { root: target });
  expect(pull.stderr).toMatch(/cut off after \d+ bytes/);
  // Two GETs of the big blob: the second from the middle on.
  expect(blobGets(proxy.requests).filter((digest) => digest === image.big)).toHaveLength(2);
  expect(proxy.ranges).toHaveLength(1);
  const from = Number(/^sha256:[0-9a-f]{64} bytes=(\d+)-$/.exec(proxy.ranges[0]!)?.[1]);
  expect(proxy.ranges[0]!.startsWith(image.big)).toBe(true);
  expect(from).toBeGreaterThan(0);
  expect(from).toBeLessThanOrEqual(2 * 1024 * 1024 + 1024);
  // The blob is whole and the image runs.
  const blob = await readFile(blobPath(target, image.big));
  expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(image.big);
  expect(await indexRefs(target)).toEqual([`${proxy.host}/e2e/cut:1`]);
  expect(await readdir(path.join(target, 'ingest'))).toEqual([]);
});

it('keeps the blobs of a pull killed midway, and pulling again fetches only the rest', async () => {
  const image = await buildTwoLayerImage(`${registry.host}/e2e/resume:1`, 4 * 1024 * 1024);
  await riboOk(['push', `${registry.host}/e2e/resume:1`], { root: image.root });
  // 4 MiB in 32 KiB pieces 300 ms apart: about 40 s for the big layer, killed long before (even on a loaded machine).
  const proxy = await startProxy(registry.host, { slowDigest: image.big, slowDelayMs: 300 });
  cleanups.push(() => proxy.stop());
  const name = `${proxy.host}/e2e/resume:1`;

  const target = await store();
  const { child } = await spawnRibo(['pull', name], { root: target });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !((await exists(blobPath(target, image.small))) && (await exists(blobPath(target, image.config))))) await sleep(50);
  expect(await exists(blobPath(target, image.small))).toBe(true);
  expect(blobGets(proxy.requests)).toContain(image.big);
  process.kill(-child.pid!, 'SIGKILL');
  await child;
  expect(await indexRefs(target)).toEqual([]);
  expect(await exists(blobPath(target, image.big))).toBe(false);

  proxy.requests.length = 0;
  proxy.behaviour.slowDigest = undefined;
  await riboOk(['pull', name], { root: target });
  expect(blobGets(proxy.requests)).toEqual([image.big]);
  expect(await indexRefs(target)).toEqual([name]);
  expect(await readdir(path.join(target, 'ingest'))).toEqual([]);
  const stored = await readFile(blobPath(target, image.big));
  expect(`sha256:${createHash('sha256').update(stored).digest('hex')}`).toBe(image.big);
});

it('retries a blob the registry fails with 503, and pulls by digest', async () => {
  const image = await buildTwoLayerImage(`${registry.host}/e2e/retry:1`, 64 * 1024);
  const pushed = await riboOk(['push', `${registry.host}/e2e/retry:1`], { root: image.root });
  const digest = pushed.stdout.trim();
  const proxy = await startProxy(registry.host, { failOnceDigest: image.big });
  cleanups.push(() => proxy.stop());

  const target = await store();
  const pull = await riboOk(['pull', `${proxy.host}/e2e/retry@${digest}`], { root: target });
  expect(pull.stdout.trim()).toBe(digest);
  expect(pull.stderr).toMatch(/retrying/);
  expect(blobGets(proxy.requests).filter((d) => d === image.big)).toHaveLength(2);
  // A pull by digest alone tags nothing; the image is found by its digest.
  expect(await indexRefs(target)).toEqual([]);
  const inspect = await riboOk(['inspect', digest], { root: target });
  expect(inspect.stdout).toContain(image.big);
});

it('picks the image for the platform asked for from a multi-platform index', async () => {
  const source = await store();
  const ctx = await context({ Dockerfile: 'FROM scratch\nCOPY small.txt /small.txt\n', 'small.txt': 'x\n' });
  const digests: Record<string, string> = {};
  for (const arch of ['amd64', 'arm64']) {
    await riboOk(['build', '-q', '--label', `arch=${arch}`, '-t', `multi:${arch}`, ctx], { root: source });
    // The manifest digest (build prints the image id, the config digest).
    digests[arch] = (await riboOk(['inspect', '--format', '{{.Digest}}', `multi:${arch}`], { root: source })).stdout.trim();
  }
  // An OCI layout holding an index of the two, copied to the registry by skopeo --all.
  const layout = await context({});
  await execa('cp', ['-r', path.join(source, 'blobs'), path.join(source, 'oci-layout'), layout]);
  const entries = await Promise.all(Object.entries(digests).map(async ([arch, digest]) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest,
    size: (await readFile(blobPath(source, digest))).length,
    platform: { os: 'linux', architecture: arch },
  })));
  const indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  const indexDigest = `sha256:${createHash('sha256').update(indexBytes).digest('hex')}`;
  await (await import('node:fs/promises')).writeFile(blobPath(layout, indexDigest), indexBytes);
  await (await import('node:fs/promises')).writeFile(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: indexBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
  await execa('skopeo', ['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:multi`, `docker://${registry.host}/e2e/multi:1`]);

  for (const arch of ['amd64', 'arm64']) {
    const target = await store();
    const pulled = await riboOk(['pull', '--platform', `linux/${arch}`, `${registry.host}/e2e/multi:1`], { root: target });
    expect(pulled.stdout.trim()).toBe(digests[arch]);
    expect((await readImage(target, `${registry.host}/e2e/multi:1`)).config.config.Labels.arch).toBe(arch);
  }
  const none = await ribo(['pull', '--platform', 'linux/s390x', `${registry.host}/e2e/multi:1`], { root: await store() });
  expect(none.exitCode).toBe(1);
  expect(none.stderr).toContain('has no image for linux/s390x; it offers linux/amd64, linux/arm64');
});
