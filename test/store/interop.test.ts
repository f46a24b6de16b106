import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Annotation, MediaType, type ImageIndex } from '../../src/oci/image.js';
import { Store } from '../../src/store/index.js';
import { kindForMediaType, schemaDir, validateOci } from '../helpers/oci-schema.js';
import { makeTempDir, removeTempDir, writeSmallImage } from './support.js';

const run = promisify(execFile);

describe('OCI schema helper', () => {
  const examples = path.resolve(schemaDir(), '../spec-examples');

  it('accepts every known-good example of the image-spec', () => {
    const rows = readFileSync(path.join(examples, 'INDEX.tsv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.length).toBe(readdirSync(examples).filter((name) => name.endsWith('.json')).length);
    for (const row of rows) {
      const [file, , , , mediaType] = row.split('\t');
      const kind = kindForMediaType(mediaType!);
      expect([file, kind]).toEqual([file, expect.any(String)]);
      expect([file, validateOci(kind!, JSON.parse(readFileSync(path.join(examples, file!), 'utf8')))]).toEqual([file, []]);
    }
  });

  it('rejects broken documents, including errors inside referenced schemas', () => {
    const manifest = JSON.parse(readFileSync(path.join(examples, 'manifest-1.json'), 'utf8'));
    expect(validateOci('manifest', { ...manifest, schemaVersion: 1 })).not.toEqual([]);
    expect(validateOci('manifest', { ...manifest, config: { ...manifest.config, digest: 'no colon here' } })).not.toEqual([]);
    expect(validateOci('manifest', { ...manifest, config: { ...manifest.config, size: 'big' } })).not.toEqual([]);
    expect(validateOci('config', { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, created: 'yesterday' })).not.toEqual([]);
    expect(validateOci('layout', { imageLayoutVersion: 1 })).not.toEqual([]);
    expect(validateOci('index', { schemaVersion: 2, manifests: [{ mediaType: MediaType.imageManifest, size: 1 }] })).not.toEqual([]);
  });
});

describe('Store as an OCI image layout', () => {
  let dir: string;
  let store: Store;
  let image: Awaited<ReturnType<typeof writeSmallImage>>;
  const refs = ['hello:latest', 'localhost/debian:bookworm', 'localhost:5000/team/app:v1.2', 'moving:1'];

  beforeAll(async () => {
    dir = makeTempDir('store-interop');
    store = await Store.open(path.join(dir, 'root'));
    image = await writeSmallImage(store);
    for (const ref of refs) await store.tag(ref, image.manifest);
    // An image whose tag moved on stays in index.json, untagged (listed as <none>).
    const moved = await writeSmallImage(store, { cmd: ['moved'] });
    await store.tag('moving:1', moved.manifest);
    await store.tag('moving:1', image.manifest);
  });
  afterAll(() => removeTempDir(dir));

  it('writes documents that validate against the image-spec schemas', async () => {
    expect(validateOci('layout', JSON.parse(await fs.readFile(path.join(store.root, 'oci-layout'), 'utf8')))).toEqual([]);
    const index = JSON.parse(await fs.readFile(path.join(store.root, 'index.json'), 'utf8')) as ImageIndex;
    expect(validateOci('index', index)).toEqual([]);
    expect(index.manifests.filter((entry) => entry.annotations?.[Annotation.refName] === undefined)).toHaveLength(1);
    for (const entry of index.manifests) {
      expect(validateOci('descriptor', entry)).toEqual([]);
      const manifest = await store.readJSON(entry.digest);
      expect(validateOci('manifest', manifest)).toEqual([]);
    }
    expect(validateOci('config', await store.readJSON(image.config.digest))).toEqual([]);
  });

  it.each(refs)('skopeo inspect oci:ROOT:%s reads the image', async (ref) => {
    const { stdout } = await run('skopeo', ['inspect', `oci:${store.root}:${ref}`]);
    const info = JSON.parse(stdout) as { Digest: string; Created: string; Os: string; Architecture: string; Layers: string[] };
    expect(info.Digest).toBe(image.manifest.digest);
    expect(info.Layers).toEqual([image.layer.digest]);
    expect([info.Os, info.Architecture]).toEqual(['linux', 'amd64']);
    expect(new Date(info.Created).toISOString()).toBe('2024-01-02T03:04:05.000Z');

    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${store.root}:${ref}`])).stdout);
    expect(config).toEqual(image.configJSON);
  });

  it.each(refs)('umoci stat --image ROOT:%s reads the image', async (ref) => {
    const { stdout } = await run('umoci', ['stat', '--json', '--image', `${store.root}:${ref}`]);
    const stat = JSON.parse(stdout) as { history: { layer?: { digest: string }; created_by?: string }[] };
    expect(stat.history.map((entry) => [entry.layer?.digest, entry.created_by])).toEqual([[image.layer.digest, 'COPY hello.txt /']]);
  });

  it('umoci unpacks the layer ribo wrote', async () => {
    const bundle = path.join(dir, 'bundle');
    await run('umoci', ['unpack', '--rootless', '--image', `${store.root}:hello:latest`, bundle]);
    expect(await fs.readFile(path.join(bundle, 'rootfs', 'hello.txt'), 'utf8')).toBe('hello from ribo\n');
  });

  it('neither tool finds a ref that was never tagged', async () => {
    await expect(run('skopeo', ['inspect', `oci:${store.root}:nope:latest`])).rejects.toThrow();
    await expect(run('umoci', ['stat', '--image', `${store.root}:nope:latest`])).rejects.toThrow();
  });
});
