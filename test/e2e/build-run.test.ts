/**
 * The walking skeleton end to end, as an unprivileged user: build the hello
 * fixture, check the layout and layers on disk, run the image; with each
 * storage driver and each OCI runtime.
 */
import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { validateOci } from '../helpers/oci-schema.js';
import { blobPath, listLayer, makeContext, makeStore, PROJECT_ROOT, readImage, removeStore, riboOk, type DriverName, type RuntimeName } from './harness.js';

const combos: Array<[DriverName, RuntimeName]> = [
  ['overlay', 'crun'],
  ['overlay', 'runc'],
  ['fuse-overlayfs', 'crun'],
  ['fuse-overlayfs', 'runc'],
  // The copying fallback, for hosts where neither overlay can be mounted.
  ['copy', 'crun'],
];

describe.each(combos)('hello fixture with %s and %s', (driver, runtime) => {
  let root: string;
  let context: string;
  const opts = () => ({ root, driver, runtime });

  beforeAll(async () => {
    root = await makeStore();
    context = await makeContext({}, 'hello');
    await readFile(path.join(context, 'busybox')).catch(() => {
      throw new Error('fixtures/hello/busybox is missing: make test copies it from busybox-static');
    });
    await riboOk(['build', '-t', 'hello:latest', context], opts());
  });

  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  });

  it('reports the storage driver and runtime it was asked for', async () => {
    const info = JSON.parse((await riboOk(['info', '--format', 'json'], opts())).stdout);
    expect(info.storageDriver).toBe(driver);
    expect(info.runtime).toBe(runtime);
    expect(info.rootless).toBe(process.env.RIBO_E2E_USER !== undefined || process.getuid?.() !== 0);
    // bin/install-deps installs isal: its igzip writes gzip layers.
    expect(info.layerGzip).toMatch(/^igzip \(\/\S+\/igzip\)$/);
  });

  it('runs the image: CMD, ENV, WORKDIR and the deleted file gone', async () => {
    const { stdout } = await riboOk(['run', '--rm', 'hello:latest'], opts());
    expect(stdout).toContain('Hello from a ribo container!');
    expect(stdout).toContain('files in /var/lib/hello: kept.txt');
    expect(stdout).not.toContain('obsolete');
    expect(stdout).toContain('running as uid 0 in /app');
  });

  it('records the deletion as a whiteout and keeps uid 1000 in the layer tar', async () => {
    const image = await readImage(root, 'hello:latest');
    const layers = await Promise.all(image.manifest.layers.map((l) => listLayer(blobPath(root, l.digest))));
    const creating = layers.findIndex((entries) => entries.some((e) => e.path === 'var/lib/hello/obsolete.txt'));
    const deleting = layers.findIndex((entries) => entries.some((e) => e.path === 'var/lib/hello/.wh.obsolete.txt'));
    expect(creating).toBeGreaterThanOrEqual(0);
    expect(deleting).toBeGreaterThan(creating);
    const owned = layers[deleting]!.find((e) => e.path === 'home/app/owned.txt');
    expect(owned).toMatchObject({ uid: 1000, gid: 1000 });
    // Mount points the runtime needed are not part of any layer.
    for (const entries of layers) expect(entries.map((e) => e.path)).not.toContain('proc/');
  });

  it('writes an OCI layout that validates and that skopeo and umoci read', async () => {
    const image = await readImage(root, 'hello:latest');
    expect(validateOci('index', image.index)).toEqual([]);
    expect(validateOci('manifest', image.manifest)).toEqual([]);
    expect(validateOci('config', image.config)).toEqual([]);
    expect(validateOci('layout', JSON.parse(await readFile(path.join(root, 'oci-layout'), 'utf8')))).toEqual([]);
    expect(image.config.config.Cmd).toEqual(['/bin/sh', '/app/hello.sh']);
    expect(image.config.config.WorkingDir).toBe('/app');
    expect(image.config.config.Env).toContain('GREETING_FILE=/app/greeting.txt');
    expect(image.config.rootfs.diff_ids).toHaveLength(image.manifest.layers.length);

    const skopeo = JSON.parse((await execa('skopeo', ['inspect', `oci:${root}:hello:latest`])).stdout);
    expect(skopeo.Layers).toEqual(image.manifest.layers.map((l) => l.digest));
    const umoci = await execa('umoci', ['stat', '--image', `${root}:hello:latest`], { reject: false });
    expect(umoci.stderr).toBe('');
    expect(umoci.exitCode).toBe(0);
    expect(umoci.stdout).toContain('busybox --install');
  });

  it('passes the exit code of the container through', async () => {
    const result = await (await import('./harness.js')).ribo(['run', '--rm', 'hello:latest', 'sh', '-c', 'exit 7'], opts());
    expect(result.exitCode).toBe(7);
  });

  it('leaves nothing of a --rm container behind', async () => {
    await riboOk(['run', '--rm', 'hello:latest', 'true'], opts());
    const containers = await readdir(path.join(root, 'containers')).catch(() => []);
    expect(containers).toEqual([]);
  });
});

it('has the fixture the demo builds', async () => {
  const dockerfile = await readFile(path.join(PROJECT_ROOT, 'fixtures/hello/Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^FROM scratch$/m);
});
