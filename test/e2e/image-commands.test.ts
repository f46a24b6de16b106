/**
 * inspect, history, tag and rmi on the hello fixture, checked against what is
 * on disk in the OCI layout, as an unprivileged user.
 */
import { execa } from 'execa';
import { makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';

let root: string;
let context: string;
const opts = () => ({ root });

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({}, 'hello');
  await riboOk(['build', '-t', 'hello:latest', context], opts());
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

describe('inspect', () => {
  it('shows the manifest digest, config, manifest and layers as stored', async () => {
    const stored = await readImage(root, 'hello:latest');
    const entry = stored.index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'hello:latest')!;
    const [image] = JSON.parse((await riboOk(['inspect', 'hello'], opts())).stdout);
    expect(image.Digest).toBe(entry.digest);
    expect(image.Id).toBe(stored.manifest.config.digest);
    expect(image.RepoTags).toEqual(['hello:latest']);
    expect(image.Manifest).toEqual(stored.manifest);
    expect(image.ImageConfig).toEqual(stored.config);
    expect(image.Config.Cmd).toEqual(['/bin/sh', '/app/hello.sh']);
    expect(image.Layers.map((l: { Digest: string }) => l.Digest)).toEqual(stored.manifest.layers.map((l) => l.digest));
    expect(image.Layers.map((l: { DiffID: string }) => l.DiffID)).toEqual(stored.config.rootfs.diff_ids);
    const sizes = (stored.manifest.layers as unknown as Array<{ size: number }>).map((l) => l.size);
    expect(image.Layers.map((l: { Size: number }) => l.Size)).toEqual(sizes);
    // The busybox layer is the big one: about 1 MB compressed.
    expect(Math.max(...sizes)).toBeGreaterThan(500_000);
  });

  it('finds an image by digest prefix and fails clearly for an unknown one', async () => {
    const [byName] = JSON.parse((await riboOk(['inspect', 'hello'], opts())).stdout);
    const [byPrefix] = JSON.parse((await riboOk(['inspect', byName.Digest.slice(0, 19)], opts())).stdout);
    expect(byPrefix.Digest).toBe(byName.Digest);
    const missing = await ribo(['inspect', 'nosuch:1'], opts());
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('No image "nosuch:1"');
    expect(JSON.parse(missing.stdout)).toEqual([]);
    // As docker: what is found is printed, what is not is an error after it.
    const some = await ribo(['inspect', '-f', '{{.Digest}}', 'nosuch:1', 'hello', 'nosuch:2'], opts());
    expect(some).toMatchObject({ exitCode: 1, stdout: byName.Digest });
    expect(some.stderr.split('\n').filter((line) => line.startsWith('ribo: error: No image'))).toHaveLength(2);
  });
});

describe('history', () => {
  it('lists the steps newest first, empty layers marked, one row per layer otherwise', async () => {
    const stored = await readImage(root, 'hello:latest');
    const { stdout } = await riboOk(['history', '--no-trunc', 'hello'], opts());
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^LAYER\s+CREATED\s+CREATED BY\s+SIZE/);
    const rows = lines.slice(1);
    expect(rows).toHaveLength(stored.config.history.length);
    expect(rows[0]).toMatch(/^<empty layer>.*CMD \["\/bin\/sh", "\/app\/hello.sh"\]/);
    expect(rows[1]).toMatch(/^<empty layer>.*ENV GREETING_FILE/);
    expect(rows[rows.length - 1]).toContain(stored.manifest.layers[0]!.digest);
    expect(rows[rows.length - 1]).toMatch(/COPY busybox \/bin\/busybox.*\s1\.\dMB/);
    const withLayers = rows.filter((r) => r.startsWith('sha256:'));
    expect(withLayers).toHaveLength(stored.manifest.layers.length);
  });

  it('gives the same as JSON', async () => {
    const rows = JSON.parse((await riboOk(['history', '--format', 'json', 'hello'], opts())).stdout);
    expect(rows[0].layer).toBeUndefined();
    expect(rows.at(-1).createdBy).toContain('COPY busybox');
  });
});

describe('tag and rmi', () => {
  it('tags an image under another name, then removes only that tag', async () => {
    const before = await readImage(root, 'hello:latest');
    await riboOk(['tag', 'hello', 'localhost/team/copy:v1'], opts());
    const copy = await readImage(root, 'localhost/team/copy:v1');
    expect(copy.manifest).toEqual(before.manifest);
    const images = (await riboOk(['images'], opts())).stdout;
    expect(images).toMatch(/localhost\/team\/copy\s+v1/);

    const removed = await riboOk(['rmi', 'localhost/team/copy:v1'], opts());
    expect(removed.stdout).toBe('Untagged: localhost/team/copy:v1');
    await expect(readImage(root, 'localhost/team/copy:v1')).rejects.toThrow(/no localhost\/team\/copy:v1/);
    expect((await readImage(root, 'hello:latest')).manifest).toEqual(before.manifest);
  });

  it('removes nothing when one of several names is unknown', async () => {
    await riboOk(['tag', 'hello', 'other:1'], opts());
    const result = await ribo(['rmi', 'other:1', 'nosuch:2'], opts());
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('nosuch:2');
    await readImage(root, 'other:1');
    await riboOk(['rmi', 'other:1'], opts());
  });

  it('refuses an invalid target name', async () => {
    const result = await ribo(['tag', 'hello', 'Bad Name'], opts());
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('Bad Name');
  });
});
