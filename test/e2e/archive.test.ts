/**
 * ribo save / load / prune / layers, build --output and run oci:/oci-archive:,
 * as an unprivileged user, checked on the files written and what runs.
 */
import { execa } from 'execa';
import { chmod, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { validateOci } from '../helpers/oci-schema.js';
import { ARCHIVE_DOCKERFILE, ARCHIVE_OUTPUT } from './archive-image.js';
import { blobPath, makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';



let root: string;
let context: string;
let exchange: string;
const opts = () => ({ root });
const file = (name: string) => path.join(exchange, name);

async function tarList(archive: string): Promise<string[]> {
  return (await execa('tar', ['-tf', archive])).stdout.split('\n').filter(Boolean);
}

async function leftovers(storeRoot: string): Promise<string[]> {
  return readdir(path.join(storeRoot, 'ingest'));
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({ Dockerfile: ARCHIVE_DOCKERFILE }, 'hello');
  // ribo (the e2e user) and the test (root) exchange files here.
  exchange = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-archive-'));
  await chmod(exchange, 0o1777);
  await riboOk(['build', '-t', 'arch:1', context], opts());
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context, exchange]);
});

describe('save and load', () => {
  it('round-trips an oci-archive with every digest kept, and runs the loaded image', async () => {
    await riboOk(['save', '-o', file('arch.oci.tar'), 'arch:1'], opts());
    const entries = await tarList(file('arch.oci.tar'));
    expect(entries).toEqual(expect.arrayContaining(['oci-layout', 'index.json']));
    const original = await readImage(root, 'arch:1');
    const index = JSON.parse((await execa('tar', ['-xOf', file('arch.oci.tar'), 'index.json'])).stdout);
    expect(index.manifests).toEqual([expect.objectContaining({ digest: original.index.manifests[0]!.digest, annotations: { 'org.opencontainers.image.ref.name': 'arch:1' } })]);
    expect(validateOci('index', index)).toEqual([]);
    expect(validateOci('layout', JSON.parse((await execa('tar', ['-xOf', file('arch.oci.tar'), 'oci-layout'])).stdout))).toEqual([]);

    const other = await makeStore();
    try {
      const loaded = await riboOk(['load', '-i', file('arch.oci.tar')], { root: other });
      expect(loaded.stdout).toContain('Loaded image: arch:1');
      const copy = await readImage(other, 'arch:1');
      expect(copy.index.manifests[0]!.digest).toBe(original.index.manifests[0]!.digest);
      expect(copy.manifest).toEqual(original.manifest);
      expect((await riboOk(['run', '--rm', 'arch:1'], { root: other })).stdout.trim()).toBe(ARCHIVE_OUTPUT);
    } finally {
      await removeStore(other);
    }
  });

  it('writes a docker-archive (manifest.json, config, plain layer tars) that loads back with the same diffIDs', async () => {
    await riboOk(['save', '--format', 'docker-archive', '-o', file('arch.docker.tar'), 'arch:1'], opts());
    const manifest = JSON.parse((await execa('tar', ['-xOf', file('arch.docker.tar'), 'manifest.json'])).stdout);
    const original = await readImage(root, 'arch:1');
    expect(manifest).toEqual([{ Config: `${original.manifest.config.digest.slice(7)}.json`, RepoTags: ['arch:1'], Layers: original.config.rootfs.diff_ids.map((d: string) => `${d.slice(7)}.tar`) }]);
    // Layers are uncompressed tars whose sha256 is the diffID, as docker load checks.
    const firstLayer = manifest[0].Layers[1];
    const { stdout: sum } = await execa('sh', ['-c', `tar -xOf '${file('arch.docker.tar')}' ${firstLayer} | sha256sum`]);
    expect(`sha256:${sum.split(' ')[0]}`).toBe(original.config.rootfs.diff_ids[1]);

    const other = await makeStore();
    try {
      await riboOk(['load', '-i', file('arch.docker.tar')], { root: other });
      const copy = await readImage(other, 'arch:1');
      expect(copy.config.rootfs.diff_ids).toEqual(original.config.rootfs.diff_ids);
      expect(copy.manifest.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip')).toBe(true);
      // The manifest ribo wrote for the docker image is a valid OCI manifest.
      expect(validateOci('manifest', copy.manifest)).toEqual([]);
      expect(validateOci('index', copy.index)).toEqual([]);
      expect((await riboOk(['run', '--rm', 'arch:1'], { root: other })).stdout.trim()).toBe(ARCHIVE_OUTPUT);
    } finally {
      await removeStore(other);
    }
  });

  it('loads a gzip-compressed archive', async () => {
    await execa('sh', ['-c', `gzip -c '${file('arch.docker.tar')}' > '${file('arch.docker.tar.gz')}' && chmod 644 '${file('arch.docker.tar.gz')}'`]);
    const other = await makeStore();
    try {
      expect((await riboOk(['load', '-i', file('arch.docker.tar.gz')], { root: other })).stdout).toContain('Loaded image: arch:1');
      expect((await riboOk(['run', '--rm', 'arch:1', 'cat', '/data/hard.txt'], { root: other })).stdout.trim()).toBe('hi');
      expect(await readdir(path.join(other, 'tmp'))).toEqual([]);
    } finally {
      await removeStore(other);
    }
  });

  it('refuses a corrupt or truncated archive: a clear error, nothing tagged, no partial blob', async () => {
    const original = await readImage(root, 'arch:1');
    const bigLayer = original.manifest.layers[0]!.digest.slice(7);
    // Flip bytes in the middle of the busybox layer blob inside the archive.
    const corrupt = file('corrupt.oci.tar');
    const bytes = await readFile(file('arch.oci.tar'));
    const offset = bytes.indexOf(Buffer.from(`blobs/sha256/${bigLayer}`)) + 512 + 400_000;
    bytes[offset] = bytes[offset]! ^ 0xff;
    await writeFile(corrupt, bytes);
    await chmod(corrupt, 0o644);
    const truncated = file('truncated.docker.tar');
    const docker = await readFile(file('arch.docker.tar'));
    await writeFile(truncated, docker.subarray(0, Math.floor(docker.length * 0.6)));
    await chmod(truncated, 0o644);

    for (const [archive, message] of [[corrupt, /does not match its digest/], [truncated, /is truncated/]] as const) {
      const other = await makeStore();
      try {
        const result = await ribo(['load', '-i', archive], { root: other });
        expect(result.exitCode).toBe(1);
        expect(result.stderr).toMatch(message);
        expect(result.stderr).toContain(archive);
        expect((await riboOk(['images', '-q'], { root: other })).stdout.trim()).toBe('');
        expect(await leftovers(other)).toEqual([]);
        expect(await readdir(path.join(other, 'blobs', 'sha256'))).not.toContain(bigLayer);
      } finally {
        await removeStore(other);
      }
    }
  });

  it('names the missing image before writing anything', async () => {
    const result = await ribo(['save', '-o', file('never.tar'), 'arch:1', 'nosuch:1'], opts());
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('No image "nosuch:1"');
    await expect(stat(file('never.tar'))).rejects.toThrow();
  });
});

describe('run oci: and oci-archive:', () => {
  it('runs an image straight from a layout directory and from an archive, untagged', async () => {
    const layout = file('layout');
    await execa('mkdir', ['-p', layout]);
    await execa('tar', ['-xf', file('arch.oci.tar'), '-C', layout]);
    await execa('chmod', ['-R', 'a+rX', layout]);
    const other = await makeStore();
    try {
      expect((await riboOk(['run', '--rm', `oci:${layout}:arch:1`], { root: other })).stdout.trim()).toBe(ARCHIVE_OUTPUT);
      expect((await riboOk(['run', '--rm', `oci-archive:${file('arch.oci.tar')}`, 'cat', '/data/user.txt'], { root: other })).stdout.trim()).toBe('mine');
      // Brought in by content only: no tag was added.
      expect((await riboOk(['images', '-q'], { root: other })).stdout.trim()).toBe('');
      const wrong = await ribo(['run', '--rm', `oci:${layout}:nosuch`], { root: other });
      expect(wrong.exitCode).toBe(1);
      expect(wrong.stderr).toContain('has no image named "nosuch"');
    } finally {
      await removeStore(other);
    }
  });
});

describe('layers', () => {
  it('lists what each layer adds, changes and deletes, whiteouts and opaque dirs included', async () => {
    const { stdout } = await riboOk(['layers', '--json', 'arch:1'], opts());
    const result = JSON.parse(stdout);
    expect(result.layers).toHaveLength(4);
    const [busybox, , third, fourth] = result.layers;
    expect(busybox.createdBy).toContain('COPY busybox /bin/busybox');
    expect(busybox.changes).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'added', path: '/bin/busybox', type: 'file' })]));
    expect(busybox.added.bytes).toBeGreaterThan(1_000_000);
    expect(third.changes).toEqual(expect.arrayContaining([
      { kind: 'added', path: '/data/gone.txt', type: 'file', size: 5 },
      { kind: 'added', path: '/data/old/a.txt', type: 'file', size: 2 },
    ]));
    const byPath = new Map(fourth.changes.map((c: { path: string }) => [c.path, c]));
    expect(byPath.get('/data/gone.txt')).toEqual({ kind: 'deleted', path: '/data/gone.txt', type: 'file', size: 5 });
    // The directory made again is opaque: what it had below is deleted.
    expect(byPath.get('/data/old/a.txt')).toEqual(expect.objectContaining({ kind: 'deleted', size: 2 }));
    expect(byPath.get('/data/old/b.txt')).toEqual(expect.objectContaining({ kind: 'deleted', size: 2 }));
    expect(byPath.get('/data/old/c.txt')).toEqual(expect.objectContaining({ kind: 'added', size: 4 }));
    expect(byPath.get('/data/link')).toEqual(expect.objectContaining({ kind: 'added', type: 'symlink', linkTarget: 'file.txt' }));
    expect(fourth.deleted.count).toBe(3);
    expect(result.wastedBytes).toBe(9);

    const summary = (await riboOk(['layers', '--summary', 'arch:1'], opts())).stdout.split('\n');
    expect(summary[0]).toMatch(/^LAYER\s+DIGEST\s+SIZE\s+ADDED\s+CHANGED\s+DELETED\s+CREATED BY/);
    expect(summary[4]).toMatch(/^4\s.*3 \(9B\)\s+RUN/);
    const text = (await riboOk(['layers', 'arch:1'], opts())).stdout;
    expect(text).toMatch(/D\s+5B\s+\/data\/gone.txt/);
    expect(text).toContain('/data/link -> file.txt');
  });
});

describe('build --output', () => {
  it('writes an oci-archive, a docker-archive and the filesystem as asked', async () => {
    await riboOk(['build', '-q', '-t', 'arch:1', '--output', `type=oci,dest=${file('out.oci.tar')}`, context], opts());
    await riboOk(['build', '-q', '-t', 'arch:1', '--output', `type=docker,dest=${file('out.docker.tar')}`, context], opts());
    await riboOk(['build', '-q', '--output', `type=local,dest=${file('rootfs')}`, context], opts());
    const original = await readImage(root, 'arch:1');
    const index = JSON.parse((await execa('tar', ['-xOf', file('out.oci.tar'), 'index.json'])).stdout);
    expect(index.manifests[0].digest).toBe(original.index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'arch:1')!.digest);
    expect(JSON.parse((await execa('tar', ['-xOf', file('out.docker.tar'), 'manifest.json'])).stdout)[0].RepoTags).toEqual(['arch:1']);

    const rootfs = file('rootfs');
    expect(await readFile(path.join(rootfs, 'data/old/c.txt'), 'utf8')).toBe('new\n');
    expect(await readdir(path.join(rootfs, 'data/old'))).toEqual(['c.txt']);
    await expect(stat(path.join(rootfs, 'data/gone.txt'))).rejects.toThrow();
    const suid = await stat(path.join(rootfs, 'data/suid'));
    expect(suid.mode & 0o7777).toBe(0o4755);
    // Files handed to the user belong to the user, whatever the image says.
    const user = await stat(path.join(rootfs, 'data/user.txt'));
    expect(user.uid).toBe((await stat(root)).uid);
    expect((await stat(path.join(rootfs, 'data/hard.txt'))).ino).toBe((await stat(path.join(rootfs, 'data/file.txt'))).ino);

    const bad = await ribo(['build', '--output', 'type=zip,dest=x', context], opts());
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('type must be oci, docker or local');
  });
});

describe('prune', () => {
  it('frees what no image uses, keeps what a tagged image or the build cache needs', async () => {
    const other = await makeStore();
    try {
      await riboOk(['load', '-i', file('arch.oci.tar')], { root: other });
      const hello = await makeContext({}, 'hello');
      await riboOk(['build', '-t', 'hello', hello], { root: other });
      await execa('rm', ['-rf', hello]);
      await riboOk(['run', '--rm', 'arch:1', 'true'], { root: other });
      const arch = await readImage(other, 'arch:1');
      const archBlobs = [arch.index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'arch:1')!.digest, arch.manifest.config.digest, ...arch.manifest.layers.map((l) => l.digest)];
      const nothing = await riboOk(['prune'], { root: other });
      expect(nothing.stdout).toContain('0 blobs, 0 unpacked layers');

      await riboOk(['rmi', 'arch:1'], { root: other });
      const dry = await riboOk(['prune', '--dry-run'], { root: other });
      expect(dry.stdout).toContain('Would delete blob');
      for (const digest of archBlobs) await stat(blobPath(other, digest));

      const pruned = await riboOk(['prune'], { root: other });
      // arch's own layers go (unpacked ones too); the busybox layer both images share stays.
      const shared = (await readImage(other, 'hello:latest')).manifest.layers.map((l) => l.digest);
      for (const digest of archBlobs) {
        if (shared.includes(digest)) await stat(blobPath(other, digest));
        else await expect(stat(blobPath(other, digest))).rejects.toThrow();
      }
      expect(pruned.stdout).toMatch(/Deleted unpacked layer sha256:/);
      expect(pruned.stdout).toMatch(/Freed \S+: \d+ blobs, \d+ unpacked layers/);
      expect((await riboOk(['run', '--rm', 'hello', 'cat', '/var/lib/hello/kept.txt'], { root: other })).stdout.trim()).toBe('kept');

      // hello's build cache still has its layers: untag, prune, rebuild is fully cached.
      await riboOk(['rmi', 'hello'], { root: other });
      await riboOk(['prune'], { root: other });
      const hello2 = await makeContext({}, 'hello');
      const rebuilt = await riboOk(['build', '-t', 'hello', hello2], { root: other });
      expect(rebuilt.stderr).toContain('CACHED');
      await riboOk(['rmi', 'hello'], { root: other });
      const all = await riboOk(['prune', '--all'], { root: other });
      expect(all.stdout).toMatch(/Forgot \d+ cached build steps/);
      expect(await readdir(path.join(other, 'blobs', 'sha256'))).toEqual([]);
      expect(await readdir(path.join(other, 'layers'))).toEqual([]);
      await execa('rm', ['-rf', hello2]);
    } finally {
      await removeStore(other);
    }
  });

  it('runs beside a build without taking the blobs the build has not tagged yet', async () => {
    const other = await makeStore();
    const slow = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox sleep 6; /bin/busybox echo slow > /slow.txt"]\n' }, 'hello');
    try {
      const building = ribo(['build', '-t', 'slow', slow], { root: other });
      // While the build has the store open, a prune that will not wait refuses.
      let refused;
      for (let tries = 0; tries < 40 && !refused; tries++) {
        const attempt = await ribo(['prune', '--all', '--wait', '0'], { root: other });
        if (attempt.exitCode !== 0) refused = attempt;
        else await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(refused?.exitCode).toBe(1);
      expect(refused?.stderr).toContain('deletes nothing while they run');
      // The COPY layer is committed soon, untagged (and --all ignores the build cache):
      // prune must wait for the build to finish. When it returns, the build has tagged its image
      // (read from the store, not from which process's end this test hears of first).
      const pruned = await riboOk(['prune', '--all'], { root: other });
      const tagged = await readImage(other, 'slow:latest').catch((error: Error) => error);
      const built = await building;
      expect(built.exitCode).toBe(0);
      expect(tagged).not.toBeInstanceOf(Error);
      expect(pruned.stdout).toContain('0 blobs, 0 unpacked layers');
      expect((await riboOk(['run', '--rm', 'slow', '/bin/busybox', 'cat', '/slow.txt'], { root: other })).stdout.trim()).toBe('slow');
    } finally {
      await removeStore(other);
      await execa('rm', ['-rf', slow]);
    }
  });

  it('does not wait for a running container, and keeps the image and layers it runs on', async () => {
    const other = await makeStore();
    try {
      await riboOk(['load', '-i', file('arch.oci.tar')], { root: other });
      await riboOk(['rmi', 'arch:1'], { root: other });
      // A container gives up the store once it runs; its record keeps its image and layers (as docker's prune keeps what containers use).
      // It runs until the test has pruned (touches /go), however long that takes on a loaded machine.
      const running = ribo(['run', '--rm', '--name', 'prune-meanwhile', `oci-archive:${file('arch.oci.tar')}`, 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.1; done'], { root: other });
      for (let i = 0; i < 300; i++) {
        if ((await ribo(['ps', '--format', '{{.Names}}'], { root: other })).stdout.includes('prune-meanwhile')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const layers = await readdir(path.join(other, 'layers'));
      expect(layers.length).toBeGreaterThan(0);
      const meanwhile = await riboOk(['prune', '--wait', '0'], { root: other });
      expect(meanwhile.stdout).not.toMatch(/Deleted unpacked layer/);
      expect(await readdir(path.join(other, 'layers'))).toEqual(layers);
      await riboOk(['exec', 'prune-meanwhile', 'touch', '/go'], { root: other });
      expect((await running).exitCode).toBe(0);
      expect((await riboOk(['prune'], { root: other })).stdout).toMatch(/Deleted unpacked layer/);
    } finally {
      // (a failed step above leaves the container waiting for /go)
      await ribo(['rm', '-f', 'prune-meanwhile'], { root: other });
      await removeStore(other);
    }
  });
});
