/**
 * Images made to hurt whoever uses them: a config that claims another image's
 * layer, an /etc/passwd that points out of the image, whiteouts aimed at
 * `build --output` and blobs too big to read. The images are OCI layouts
 * written here by hand (tar makes the layers), loaded with `ribo load`.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';
import { startRegistry, type RunningRegistry } from '../setup/registry.js';

const BUSYBOX = path.join(PROJECT_ROOT, 'fixtures/hello/busybox');

/** What a layer holds: file contents, or a symlink, a FIFO or a whiteout of a lower layer's file. */
type Entry = string | { symlink: string } | { fifo: true } | { whiteout: true };
type LayerSpec = Record<string, Entry>;

interface ImageSpec {
  ref: string;
  layers: LayerSpec[];
  /** Replaces the diff_ids the layers hash to. */
  diffIDs?: (real: string[]) => string[];
  config?: Record<string, unknown>;
  /** Extra bytes of padding in the config (a huge config). */
  configPadding?: number;
}

const cleanups: Array<() => Promise<unknown>> = [];
let exchange: string;

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function store(): Promise<string> {
  const dir = await makeStore();
  cleanups.push(() => removeStore(dir));
  return dir;
}

/** A plain layer tar of `spec`, with busybox at /bin/busybox when asked. */
async function layerTar(spec: LayerSpec): Promise<Buffer> {
  const stage = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-layer-'));
  try {
    for (const [name, entry] of Object.entries(spec)) {
      const base = path.basename(name);
      const target = path.join(stage, path.dirname(name), typeof entry === 'object' && 'whiteout' in entry ? `.wh.${base}` : base);
      await mkdir(path.dirname(target), { recursive: true });
      if (typeof entry === 'string') await writeFile(target, entry === 'BUSYBOX' ? await readFile(BUSYBOX) : entry, { mode: 0o755 });
      else if ('symlink' in entry) await symlink(entry.symlink, target);
      else if ('fifo' in entry) await execa('mkfifo', [target]);
      else await writeFile(target, '');
    }
    const { stdout } = await execa('tar', ['-C', stage, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-cf', '-', '.'], { encoding: 'buffer' });
    return Buffer.from(stdout);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Writes an OCI layout holding `images` (plain tar layers) and returns its directory, readable by ribo's user. */
async function writeLayout(images: ImageSpec[]): Promise<string> {
  const dir = await mkdtemp(path.join(exchange, 'layout-'));
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (data: Buffer | string): Promise<{ digest: string; size: number }> => {
    const digest = sha256(data);
    await writeFile(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const manifests = [];
  for (const image of images) {
    const layers = [];
    for (const spec of image.layers) layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await put(await layerTar(spec))) });
    const real = layers.map((l) => l.digest); // plain tars: the blob digest is the diffID
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/busybox', 'cat', '/who'], ...image.config },
      rootfs: { type: 'layers', diff_ids: image.diffIDs ? image.diffIDs(real) : real },
      ...(image.configPadding ? { padding: 'x'.repeat(image.configPadding) } : {}),
    };
    const configBlob = await put(JSON.stringify(config));
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob }, layers };
    manifests.push({ mediaType: manifest.mediaType, ...(await put(JSON.stringify(manifest))), annotations: { 'org.opencontainers.image.ref.name': image.ref } });
  }
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  await execa('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

/** Uploads the first image of an OCI layout to a registry (monolithic blob uploads, then the manifest), trusting nothing ribo does. */
async function pushLayout(host: string, layout: string, repository: string, tag: string): Promise<void> {
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
  const manifestDigest: string = index.manifests[0].digest;
  const manifestBytes = await readFile(path.join(layout, 'blobs/sha256', manifestDigest.slice(7)));
  const manifest = JSON.parse(manifestBytes.toString('utf8'));
  for (const blob of [manifest.config, ...manifest.layers]) {
    const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', blob.digest);
    const body = await readFile(path.join(layout, 'blobs/sha256', blob.digest.slice(7)));
    const put = await fetch(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.status).toBe(201);
  }
  const put = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body: manifestBytes, headers: { 'content-type': manifest.mediaType } });
  expect(put.status).toBe(201);
}

async function unpackedLayers(root: string): Promise<string[]> {
  return readdir(path.join(root, 'layers')).catch(() => []);
}

beforeAll(async () => {
  exchange = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-hostile-'));
  await chmod(exchange, 0o1777);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await rm(exchange, { recursive: true, force: true });
});

describe('a config that claims another image\'s layer', () => {
  const victimLayer: LayerSpec = { 'bin/busybox': 'BUSYBOX', who: 'victim\n' };
  const evilLayer: LayerSpec = { 'bin/busybox': 'BUSYBOX', who: 'evil\n' };

  it('is refused by `ribo load`, and the victim loaded after it sees its own files', async () => {
    const victimDiffID = sha256(await layerTar(victimLayer));
    const evil = await writeLayout([{ ref: 'evil:1', layers: [evilLayer], diffIDs: () => [victimDiffID] }]);
    const victim = await writeLayout([{ ref: 'victim:1', layers: [victimLayer] }]);
    const root = await store();
    const refused = await ribo(['load', '-i', evil], { root });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain(`the image's config says ${victimDiffID}`);
    expect(refused.stderr).toContain('of image evil:1');
    expect(JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')).manifests).toEqual([]);
    expect(await unpackedLayers(root)).toEqual([]);

    await riboOk(['load', '-i', victim], { root });
    expect((await riboOk(['run', '--rm', 'victim:1'], { root })).stdout.trim()).toBe('victim');
    // Built on, too: a FROM of the victim sees the victim's file.
    const ctx = await makeContext({ Dockerfile: 'FROM victim:1\nRUN ["/bin/busybox", "cp", "/who", "/who2"]\n' });
    cleanups.push(() => rm(ctx, { recursive: true, force: true }));
    await riboOk(['build', '-q', '-t', 'child:1', ctx], { root });
    expect((await riboOk(['run', '--rm', 'child:1', '/bin/busybox', 'cat', '/who2'], { root })).stdout.trim()).toBe('victim');
  });

  it('is refused by `ribo pull` from a registry: nothing tagged, nothing in layers/', async () => {
    let registry: RunningRegistry | undefined;
    try {
      registry = await startRegistry();
      const forgedDiffID = sha256(await layerTar(victimLayer));
      const forged = await writeLayout([{ ref: 'forged', layers: [evilLayer], diffIDs: () => [forgedDiffID] }]);
      // skopeo copies the blobs as they are, forged config included.
      await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${forged}:forged`, `docker://${registry.host}/e2e/forged:1`]);
      const target = await store();
      const refused = await ribo(['pull', `${registry.host}/e2e/forged:1`], { root: target });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain(`the image's config says ${forgedDiffID}`);
      expect(JSON.parse(await readFile(path.join(target, 'index.json'), 'utf8')).manifests).toEqual([]);
      expect(await unpackedLayers(target)).toEqual([]);
      expect(await readdir(path.join(target, 'tmp'))).toEqual([]);
    } finally {
      await registry?.stop();
    }
  });
});

describe("an image's /etc/passwd that is not a plain file of the image", () => {
  const base: LayerSpec = { 'bin/busybox': 'BUSYBOX', 'etc/group': 'root:x:0:\n' };
  const passwdImage = async (ref: string, passwd: Entry, extra: LayerSpec = {}) =>
    writeLayout([{ ref, layers: [{ ...base, 'etc/passwd': passwd, ...extra }], config: { User: 'ribo-e2e' } }]);

  it('resolves a link to the host file inside the image: the host user is unknown to the image', async () => {
    const root = await store();
    for (const [ref, target] of [['up:1', '../../../../../../etc/passwd'], ['abs:1', '/../../etc/passwd.host']] as const) {
      await riboOk(['load', '-i', await passwdImage(ref, { symlink: target })], { root });
      const result = await ribo(['run', '--rm', ref, '/bin/busybox', 'id', '-u'], { root });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/User "ribo-e2e" is not in the image's \/etc\/passwd|Too many symbolic links while resolving \/etc\/passwd/);
      expect(result.stdout).toBe('');
    }
    // A link that stays in the image is followed there, as the container would.
    await riboOk(['load', '-i', await passwdImage('own:1', { symlink: '/etc/passwd.real' }, { 'etc/passwd.real': 'ribo-e2e:x:4321:4321::/:/bin/sh\n' })], { root });
    expect((await riboOk(['run', '--rm', 'own:1', '/bin/busybox', 'id', '-u'], { root })).stdout.trim()).toBe('4321');
  });

  it('refuses a FIFO without hanging, and a link to /dev/zero without reading it', async () => {
    const root = await store();
    await riboOk(['load', '-i', await passwdImage('fifo:1', { fifo: true })], { root });
    const fifo = await ribo(['run', '--rm', 'fifo:1', '/bin/busybox', 'id', '-u'], { root });
    expect(fifo.exitCode).not.toBe(0);
    expect(fifo.stderr).toContain("The image's /etc/passwd (/etc/passwd) is not a regular file (it is a FIFO)");
    await riboOk(['load', '-i', await passwdImage('zero:1', { symlink: '/dev/zero' })], { root });
    const zero = await ribo(['run', '--rm', 'zero:1', '/bin/busybox', 'id', '-u'], { root });
    expect(zero.exitCode).not.toBe(0);
    expect(zero.stderr).toMatch(/is not a regular file|User "ribo-e2e" is not in the image's \/etc\/passwd/);
    // COPY --chown reads the same files the same way.
    const ctx = await makeContext({ Dockerfile: 'FROM fifo:1\nCOPY --chown=ribo-e2e Dockerfile /x\n' });
    cleanups.push(() => rm(ctx, { recursive: true, force: true }));
    const built = await ribo(['build', '-q', ctx], { root });
    expect(built.exitCode).not.toBe(0);
    expect(built.stderr).toContain('is not a regular file (it is a FIFO)');
  }, 120_000);

  it('COPY --from follows an image\'s links inside that image, never to the host', async () => {
    const root = await store();
    const layout = await writeLayout([{ ref: 'links:1', layers: [{ ...base, 'etc/passwd': 'root:x:0:0::/:/bin/sh\n', 'up': { symlink: '../../../../../../etc/hostname' }, 'abs': { symlink: '/etc/hostname' }, 'in': { symlink: '../etc/passwd' } }] }]);
    await riboOk(['load', '-i', layout], { root });
    for (const source of ['/up', '/abs']) {
      const ctx = await makeContext({ Dockerfile: `FROM scratch\nCOPY --from=links:1 ${source} /copied\n` });
      cleanups.push(() => rm(ctx, { recursive: true, force: true }));
      const result = await ribo(['build', '-q', ctx], { root });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(/not found|does not exist|no such file/i);
    }
    const ctx = await makeContext({ Dockerfile: 'FROM links:1\nCOPY --from=links:1 /in /copied\n' });
    cleanups.push(() => rm(ctx, { recursive: true, force: true }));
    await riboOk(['build', '-q', '-t', 'copied:1', ctx], { root });
    expect((await riboOk(['run', '--rm', 'copied:1', '/bin/busybox', 'cat', '/copied'], { root })).stdout.trim()).toBe('root:x:0:0::/:/bin/sh');
  });

  it('refuses an /etc/passwd over 4 MiB with a clear error', async () => {
    const root = await store();
    const big = `${'x'.repeat(100)}:x:1:1::/:/bin/sh\n`.repeat(45_000);
    await riboOk(['load', '-i', await passwdImage('bigpasswd:1', big)], { root });
    const result = await ribo(['run', '--rm', 'bigpasswd:1', '/bin/busybox', 'id', '-u'], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('is larger than 4194304 bytes');
  });
});

describe('build --output type=local into a directory that holds files', () => {
  it('refuses a non-empty DIR unless overwrite=true, and then never applies the image\'s whiteouts to DIR', async () => {
    const root = await store();
    const layout = await writeLayout([
      { ref: 'wh:1', layers: [{ 'data/gone.txt': 'image\n', 'data/old/a.txt': 'a\n', 'data/kept.txt': 'kept\n' }, { 'data/gone.txt': { whiteout: true }, 'data/old/a.txt': { whiteout: true }, 'data/new.txt': 'new\n' }] },
    ]);
    await riboOk(['load', '-i', layout], { root });
    const ctx = await makeContext({ Dockerfile: 'FROM wh:1\nLABEL exported=yes\n' });
    cleanups.push(() => rm(ctx, { recursive: true, force: true }));
    // The user's own files, at the very paths the image deletes.
    const dest = await mkdtemp(path.join(exchange, 'out-'));
    await mkdir(path.join(dest, 'data/old'), { recursive: true });
    await writeFile(path.join(dest, 'data/gone.txt'), 'mine\n');
    await writeFile(path.join(dest, 'data/old/b.txt'), 'mine too\n');
    await writeFile(path.join(dest, 'notes.txt'), 'notes\n');
    const { stdout: owner } = await execa('id', ['-u', process.env.RIBO_E2E_USER ?? os.userInfo().username]);
    await execa('chown', ['-R', owner.trim(), dest]);

    const refused = await ribo(['build', '-q', '--output', `type=local,dest=${dest}`, ctx], { root });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('is not empty');
    expect(refused.stderr).toContain(`--output type=local,dest=${dest},overwrite=true`);
    expect(await readFile(path.join(dest, 'data/gone.txt'), 'utf8')).toBe('mine\n');

    await riboOk(['build', '-q', '--output', `type=local,dest=${dest},overwrite=true`, ctx], { root });
    expect(await readFile(path.join(dest, 'data/gone.txt'), 'utf8')).toBe('mine\n');
    expect(await readFile(path.join(dest, 'data/old/b.txt'), 'utf8')).toBe('mine too\n');
    expect(await readFile(path.join(dest, 'notes.txt'), 'utf8')).toBe('notes\n');
    expect(await readFile(path.join(dest, 'data/kept.txt'), 'utf8')).toBe('kept\n');
    expect(await readFile(path.join(dest, 'data/new.txt'), 'utf8')).toBe('new\n');
    expect((await readdir(dest)).sort()).toEqual(['data', 'notes.txt']);
    expect((await readdir(path.join(dest, 'data/old'))).sort()).toEqual(['b.txt']);

    // Into a new directory: exactly the image's merged filesystem.
    const fresh = path.join(exchange, `fresh-${Date.now()}`);
    await riboOk(['build', '-q', '--output', `type=local,dest=${fresh}`, ctx], { root });
    expect((await readdir(path.join(fresh, 'data'))).sort()).toEqual(['kept.txt', 'new.txt', 'old']);
    expect(await readdir(path.join(fresh, 'data/old'))).toEqual([]);
  });
});

describe('blobs too big to read, and images whose blobs are gone or damaged', () => {
  const small: LayerSpec = { 'bin/busybox': 'BUSYBOX', who: 'small\n' };

  async function tags(root: string): Promise<string[]> {
    const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8'));
    return index.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name']);
  }

  it('refuses to load an image with a 40 MB config: a clear error naming the blob and the limit, nothing tagged', async () => {
    const root = await store();
    const layout = await writeLayout([{ ref: 'huge:1', layers: [small], configPadding: 40 * 1024 * 1024 }]);
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await readFile(path.join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const refused = await ribo(['load', '-i', layout], { root });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain(`the image config ${manifest.config.digest} is ${manifest.config.size} bytes, more than the 8388608 bytes`);
    expect(await tags(root)).toEqual([]);
    const blobs = await readdir(path.join(root, 'blobs/sha256'));
    expect(blobs).not.toContain(manifest.config.digest.slice(7));
  });

  it('refuses to pull an image with a 40 MB config before fetching it', async () => {
    let registry: RunningRegistry | undefined;
    try {
      registry = await startRegistry();
      const layout = await writeLayout([{ ref: 'huge', layers: [small], configPadding: 40 * 1024 * 1024 }]);
      // skopeo refuses configs over 4 MiB itself: the layout goes up through the registry's HTTP API.
      await pushLayout(registry.host, layout, 'e2e/huge', '1');
      const root = await store();
      const refused = await ribo(['pull', `${registry.host}/e2e/huge:1`], { root });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toMatch(/the image config sha256:[0-9a-f]{64} is \d+ bytes, more than the 8388608 bytes/);
      expect(await tags(root)).toEqual([]);
      expect(await readdir(path.join(root, 'blobs/sha256'))).toEqual([]);
    } finally {
      await registry?.stop();
    }
  });

  it('refuses a layout whose blob is a FIFO or /dev/zero, without hanging', async () => {
    const root = await store();
    for (const replace of [(file: string) => execa('mkfifo', ['-m', '644', file]), (file: string) => symlink('/dev/zero', file)]) {
      const layout = await writeLayout([{ ref: 'odd:1', layers: [small] }]);
      const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
      const manifest = JSON.parse(await readFile(path.join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
      const layerFile = path.join(layout, 'blobs/sha256', manifest.layers[0].digest.slice(7));
      await rm(layerFile);
      await replace(layerFile);
      const refused = await ribo(['load', '-i', layout], { root });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain('is not a regular file');
      expect(await tags(root)).toEqual([]);
    }
  }, 120_000);

  it('removes a tag with `ribo rmi` whatever state its blobs are in: deleted, corrupt or huge', async () => {
    const root = await store();
    const layout = await writeLayout([
      { ref: 'gone:1', layers: [small], config: { Env: ['WHICH=gone'] } },
      { ref: 'corrupt:1', layers: [small], config: { Env: ['WHICH=corrupt'] } },
      { ref: 'huge:1', layers: [small], config: { Env: ['WHICH=huge'] } },
    ]);
    await riboOk(['load', '-i', layout], { root });
    const stored = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')).manifests as Array<{ digest: string; annotations: Record<string, string> }>;
    const digestOf = (ref: string) => stored.find((m) => m.annotations['org.opencontainers.image.ref.name'] === ref)!.digest;
    const blob = (digest: string) => path.join(root, 'blobs/sha256', digest.slice(7));
    const configOf = async (ref: string) => JSON.parse(await readFile(blob(digestOf(ref)), 'utf8')).config.digest as string;

    await rm(blob(await configOf('gone:1')));
    const corruptManifest = digestOf('corrupt:1');
    const hugeConfig = await configOf('huge:1');
    await writeFile(blob(corruptManifest), 'not the manifest');
    await writeFile(blob(hugeConfig), Buffer.alloc(40 * 1024 * 1024, 0x20));
    // Using them fails, clearly.
    expect((await ribo(['run', '--rm', 'huge:1'], { root })).stderr).toContain('more than the 8388608 bytes');

    expect((await riboOk(['rmi', 'gone:1'], { root })).stdout).toContain('Untagged: gone:1');
    expect((await riboOk(['rmi', corruptManifest], { root })).stdout).toContain('Untagged: corrupt:1');
    expect((await riboOk(['rmi', digestOf('huge:1').slice(7, 19)], { root })).stdout).toContain('Untagged: huge:1');
    expect(await tags(root)).toEqual([]);
    // And prune then frees the space.
    await riboOk(['prune'], { root });
    expect(await readdir(path.join(root, 'blobs/sha256'))).toEqual([]);
  });
});
