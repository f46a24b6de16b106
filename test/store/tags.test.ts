import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RECEIVED_ANNOTATION, UNTAGGED_ANNOTATION } from '../../src/store/index-file.js';
import { Annotation, MediaType, type Descriptor, type ImageIndex } from '../../src/oci/image.js';
import { sha256Of } from '../../src/oci/digest.js';
import {
  AmbiguousImageError,
  BlobNotFoundError,
  ImageNotFoundError,
  Store,
  NoPlatformManifestError,
} from '../../src/store/index.js';
import { InvalidImageRefError } from '../../src/oci/reference.js';
import { formatPlatform, hostPlatform } from '../../src/oci/platform.js';
import { makeTempDir, removeTempDir, writeSmallImage } from './support.js';

async function readIndex(store: Store): Promise<ImageIndex> {
  return JSON.parse(await fs.readFile(path.join(store.root, 'index.json'), 'utf8')) as ImageIndex;
}

describe('Store tags', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('store-tags');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  it('tags with the normalized NAME:TAG as ref.name and resolves by name', async () => {
    const image = await writeSmallImage(store);
    await store.tag('hello', image.manifest);
    const index = await readIndex(store);
    expect(index.manifests).toEqual([
      { ...image.manifest, annotations: { [Annotation.refName]: 'hello:latest', [RECEIVED_ANNOTATION]: expect.any(String) } },
    ]);
    expect(Date.now() - Date.parse(index.manifests[0]!.annotations![RECEIVED_ANNOTATION]!)).toBeLessThan(10 * 60_000);
    for (const ref of ['hello', 'hello:latest']) {
      const resolved = await store.resolveImage(ref);
      expect(resolved.ref).toBe('hello:latest');
      expect(resolved.manifestDescriptor.digest).toBe(image.manifest.digest);
      expect(resolved.manifest).toEqual(image.manifestJSON);
      expect(resolved.config).toEqual(image.configJSON);
      expect(resolved.configDescriptor).toEqual(image.config);
    }
  });

  it('moves an existing tag to the new image and keeps other tags', async () => {
    const first = await writeSmallImage(store, { cmd: ['first'] });
    const second = await writeSmallImage(store, { cmd: ['second'] });
    await store.tag('app:1', first.manifest);
    await store.tag('app:stable', first.manifest);
    await store.tag('app:1', second.manifest);
    const index = await readIndex(store);
    expect(index.manifests.map((entry) => [entry.annotations![Annotation.refName], entry.digest]).sort()).toEqual(
      [['app:1', second.manifest.digest], ['app:stable', first.manifest.digest]].sort(),
    );
    expect((await store.resolveImage('app:1')).config.config?.Cmd).toEqual(['second']);
  });

  it('keeps an image whose last tag moved listed as untagged, as docker lists dangling images', async () => {
    const first = await writeSmallImage(store, { cmd: ['first'] });
    const second = await writeSmallImage(store, { cmd: ['second'] });
    await store.tag('app:1', first.manifest);
    const received = (await readIndex(store)).manifests[0]!.annotations![RECEIVED_ANNOTATION];
    await store.tag('app:1', second.manifest);
    const entries = (await readIndex(store)).manifests;
    expect(entries.find((e) => e.digest === first.manifest.digest)).toEqual({ ...first.manifest, annotations: { [UNTAGGED_ANNOTATION]: 'true', [RECEIVED_ANNOTATION]: received } });
    expect((await store.listImages()).map((i) => [i.ref, i.digest, i.config])).toEqual([['app:1', second.manifest.digest, second.config.digest], [undefined, first.manifest.digest, first.config.digest]]);
    expect((await store.resolveImage(first.config.digest.slice(7, 19))).manifestDescriptor.digest).toBe(first.manifest.digest);
    // Tagged again: the untagged entry goes, its arrival time stays.
    await store.tag('back', first.manifest);
    const back = (await readIndex(store)).manifests.filter((e) => e.digest === first.manifest.digest);
    expect(back.map((e) => [e.annotations![Annotation.refName], e.annotations![RECEIVED_ANNOTATION], e.annotations![UNTAGGED_ANNOTATION]])).toEqual([['back:latest', received, undefined]]);
  });

  it('keeps no untagged entry for an image its name now tags an index of (another platform added)', async () => {
    const image = await writeSmallImage(store, { cmd: ['amd64'] });
    const other = await writeSmallImage(store, { cmd: ['arm64'] });
    await store.tag('multi', image.manifest);
    const index = await store.writeJSON(MediaType.imageIndex, {
      schemaVersion: 2,
      mediaType: MediaType.imageIndex,
      manifests: [{ ...image.manifest, platform: { os: 'linux', architecture: 'amd64' } }, { ...other.manifest, platform: { os: 'linux', architecture: 'arm64' } }],
    });
    await store.tag('multi', index);
    expect((await readIndex(store)).manifests.map((e) => e.digest)).toEqual([index.digest]);
    // Moved on from the index, the index itself stays listed untagged.
    await store.tag('multi', other.manifest);
    expect((await readIndex(store)).manifests.map((e) => [e.digest, e.annotations![UNTAGGED_ANNOTATION]])).toEqual([[other.manifest.digest, undefined], [index.digest, 'true']]);
  });

  it('lists an image kept without a name, and forgets untagged entries on request only', async () => {
    const kept = await writeSmallImage(store, { cmd: ['kept'] });
    const other = await writeSmallImage(store, { cmd: ['other'] });
    await store.keepUntagged(kept.manifest);
    await store.keepUntagged(kept.manifest);
    await store.tag('other', other.manifest);
    await store.keepUntagged(other.manifest);
    expect((await readIndex(store)).manifests.map((e) => [e.digest, e.annotations![UNTAGGED_ANNOTATION]])).toEqual([[kept.manifest.digest, 'true'], [other.manifest.digest, undefined]]);
    expect(await store.forgetUntagged((e) => e.digest === other.manifest.digest)).toEqual([]);
    expect((await store.forgetUntagged()).map((e) => e.digest)).toEqual([kept.manifest.digest]);
    expect((await readIndex(store)).manifests.map((e) => e.digest)).toEqual([other.manifest.digest]);
  });

  it('untag removes only that tag and reports whether it existed', async () => {
    const image = await writeSmallImage(store);
    await store.tag('a', image.manifest);
    await store.tag('b', image.manifest);
    expect(await store.untag('a:latest')).toBe(true);
    expect(await store.untag('a')).toBe(false);
    await expect(store.resolveImage('a')).rejects.toBeInstanceOf(ImageNotFoundError);
    expect((await store.resolveImage('b')).manifestDescriptor.digest).toBe(image.manifest.digest);
    expect(await store.hasBlob(image.manifest.digest)).toBe(true);
  });

  it('reports a missing image with a hint to run `ribo images`', async () => {
    const error = await store.resolveImage('nothing:here').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect((error as Error).message).toContain('nothing:here');
    expect((error as Error).message).toContain('ribo images');
    expect((error as Error).message).toContain(store.root);
  });

  it('rejects invalid refs for tag and untag', async () => {
    const image = await writeSmallImage(store);
    await expect(store.tag('Bad Name', image.manifest)).rejects.toBeInstanceOf(InvalidImageRefError);
    await expect(store.untag('x:')).rejects.toBeInstanceOf(InvalidImageRefError);
    await expect(store.resolveImage('Bad Name')).rejects.toBeInstanceOf(InvalidImageRefError);
  });

  it('resolves a manifest digest, a unique prefix, and a bare hex prefix', async () => {
    const image = await writeSmallImage(store);
    await store.tag('hello', image.manifest);
    const hex = image.manifest.digest.slice('sha256:'.length);
    for (const ref of [image.manifest.digest, `sha256:${hex.slice(0, 5)}`, hex.slice(0, 12)]) {
      const resolved = await store.resolveImage(ref);
      expect(resolved.manifestDescriptor.digest).toBe(image.manifest.digest);
      expect(resolved.ref).toBeUndefined();
    }
    const differentAtEleventh = `sha256:${hex.slice(0, 10)}${hex[10] === '0' ? '1' : '0'}`;
    await expect(store.resolveImage(differentAtEleventh)).rejects.toBeInstanceOf(ImageNotFoundError);
  });

  it('resolves the full digest of an untagged manifest still in blobs/', async () => {
    const image = await writeSmallImage(store);
    const resolved = await store.resolveImage(image.manifest.digest);
    expect(resolved.manifestDescriptor).toEqual(image.manifest);
    expect(resolved.config).toEqual(image.configJSON);
  });

  it('reports an ambiguous prefix with all candidates', async () => {
    const images = [];
    for (let i = 0; i < 40; i++) images.push(await writeSmallImage(store, { cmd: [`n${i}`] }));
    for (const [i, image] of images.entries()) await store.tag(`img:${i}`, image.manifest);
    // With 80 digests (manifests and configs: both are ids), two of them share a first hex digit.
    const byFirst = new Map<string, string[]>();
    for (const digest of images.flatMap((image) => [image.manifest.digest, image.config.digest])) {
      const first = digest[7]!;
      byFirst.set(first, [...(byFirst.get(first) ?? []), digest]);
    }
    const [prefix, digests] = [...byFirst.entries()].find(([, list]) => list.length > 1)!;
    const error = await store.resolveImage(`sha256:${prefix}`).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AmbiguousImageError);
    expect((error as AmbiguousImageError).matches.sort()).toEqual([...digests].sort());
  });

  it('prefers a tag over a digest prefix spelled the same way', async () => {
    const image = await writeSmallImage(store, { cmd: ['tagged'] });
    const other = await writeSmallImage(store, { cmd: ['other'] });
    const prefix = other.manifest.digest.slice(7, 15);
    await store.tag(other.manifest.digest.slice(7, 15), image.manifest);
    await store.tag('other', other.manifest);
    expect((await store.resolveImage(prefix)).manifestDescriptor.digest).toBe(image.manifest.digest);
  });

  it('refuses to tag an image whose blobs are missing', async () => {
    const image = await writeSmallImage(store);
    await fs.rm(store.blobPath(image.layer.digest));
    await expect(store.tag('broken', image.manifest)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.tag('broken', { mediaType: MediaType.imageManifest, digest: sha256Of('none'), size: 4 })).rejects.toBeInstanceOf(BlobNotFoundError);
    expect((await readIndex(store)).manifests).toEqual([]);
  });

  it('resolves an image index to the manifest of the platform asked for (default: the host\'s), and says which it has when it lacks one', async () => {
    const image = await writeSmallImage(store);
    const host = hostPlatform();
    const indexDescriptor = await store.writeJSON(MediaType.imageIndex, {
      schemaVersion: 2,
      mediaType: MediaType.imageIndex,
      manifests: [{ ...image.manifest, platform: host }],
    });
    await store.tag('multi', indexDescriptor);
    const resolved = await store.resolveImage('multi');
    expect(resolved.manifestDescriptor.digest).toBe(image.manifest.digest);
    expect(resolved.index?.descriptor.digest).toBe(indexDescriptor.digest);
    const other = { os: 'linux', architecture: host.architecture === 's390x' ? 'ppc64le' : 's390x' };
    const missing = store.resolveImage('multi', { platform: other });
    await expect(missing).rejects.toBeInstanceOf(NoPlatformManifestError);
    await expect(missing).rejects.toThrow(`has no manifest for linux/${other.architecture}; it has ${formatPlatform(host)}`);
    // A single manifest asked for with another platform than its config's is refused the same way.
    await expect(store.resolveImage(image.manifest.digest, { platform: other })).rejects.toBeInstanceOf(NoPlatformManifestError);
    expect((await store.listImages()).find((i) => i.ref === 'multi:latest')?.platforms).toEqual([formatPlatform(host)]);
  });

  it('lists images with created time and total compressed size, sorted by ref', async () => {
    const older = await writeSmallImage(store, { created: '2020-05-06T07:08:09Z', cmd: ['old'] });
    const newer = await writeSmallImage(store, { created: '2024-01-01T00:00:00Z', cmd: ['new'] });
    await store.tag('zeta', older.manifest);
    await store.tag('alpha:2', newer.manifest);
    await store.tag('localhost/alpha:1', older.manifest);
    const sizeOf = (image: typeof older) => image.manifest.size + image.config.size + image.layer.size;
    expect(await store.listImages()).toMatchObject([
      { ref: 'alpha:2', digest: newer.manifest.digest, config: newer.config.digest, created: '2024-01-01T00:00:00Z', size: sizeOf(newer), platforms: ['linux/amd64'] },
      { ref: 'localhost/alpha:1', digest: older.manifest.digest, config: older.config.digest, created: '2020-05-06T07:08:09Z', size: sizeOf(older), platforms: ['linux/amd64'] },
      { ref: 'zeta:latest', digest: older.manifest.digest, config: older.config.digest, created: '2020-05-06T07:08:09Z', size: sizeOf(older), platforms: ['linux/amd64'] },
    ]);
  });

  it('resolves an image by its config digest (docker\'s image id) and any unique prefix of it', async () => {
    const image = await writeSmallImage(store, { cmd: ['by-config'] });
    await store.tag('cfg:1', image.manifest);
    await store.tag('cfg:2', image.manifest);
    for (const id of [image.config.digest, image.config.digest.slice(7), image.config.digest.slice(7, 19), `sha256:${image.config.digest.slice(7, 12)}`]) {
      expect((await store.resolveImage(id)).manifestDescriptor.digest).toBe(image.manifest.digest);
      expect(await store.tagsNamedBy(id)).toEqual({ digest: image.manifest.digest, tags: ['cfg:1', 'cfg:2'] });
    }
  });

  it('resolves an image whose tags are gone by its config id prefix, until prune', async () => {
    const image = await writeSmallImage(store, { cmd: ['dangling'] });
    await store.tag('gone', image.manifest);
    await store.untag('gone');
    expect((await store.resolveImage(image.config.digest.slice(7, 19))).manifestDescriptor.digest).toBe(image.manifest.digest);
  });

  it('keeps the time the store first got an image across its tags', async () => {
    const image = await writeSmallImage(store);
    await store.tag('first', image.manifest);
    const received = (await store.listImages())[0]!.received;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.tag('second', image.manifest);
    expect((await store.listImages()).map((i) => [i.ref, i.received])).toEqual([['first:latest', received], ['second:latest', received]]);
  });

  it('lists an image with a damaged config with a problem instead of failing', async () => {
    const image = await writeSmallImage(store);
    await store.tag('ok', image.manifest);
    await fs.writeFile(store.blobPath(image.config.digest), '{}');
    const [summary] = await store.listImages();
    expect(summary!.ref).toBe('ok:latest');
    expect(summary!.problem).toContain(image.config.digest);
  });
});

describe('Store tags spelled in different ways', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = makeTempDir('store-spellings');
    store = await Store.open(path.join(dir, 'root'));
  });
  afterEach(() => removeTempDir(dir));

  /** index.json as an earlier ribo (or a hand) wrote it: these names, verbatim. */
  async function writeIndexNames(entries: Array<[string, Descriptor]>): Promise<void> {
    const index = await readIndex(store);
    index.manifests = entries.map(([name, manifest]) => ({ ...manifest, annotations: { [Annotation.refName]: name } }));
    await fs.writeFile(path.join(store.root, 'index.json'), JSON.stringify(index));
  }

  it('finds an image tagged NAME:TAG by every spelling of its name', async () => {
    const image = await writeSmallImage(store);
    await store.tag('docker.io/library/hello:latest', image.manifest);
    expect((await readIndex(store)).manifests.map((m) => m.annotations?.[Annotation.refName])).toEqual(['hello:latest']);
    for (const ref of ['hello', 'hello:latest', 'library/hello', 'docker.io/hello', 'docker.io/library/hello:latest', 'index.docker.io/library/hello']) {
      const resolved = await store.resolveImage(ref);
      expect([ref, resolved.ref, resolved.manifestDescriptor.digest]).toEqual([ref, 'hello:latest', image.manifest.digest]);
    }
    await expect(store.resolveImage('localhost/hello')).rejects.toBeInstanceOf(ImageNotFoundError);
    await expect(store.resolveImage('hello:1')).rejects.toBeInstanceOf(ImageNotFoundError);
  });

  it('reads full names an earlier ribo wrote for pulled images, and replaces them on the next tag', async () => {
    const pulled = await writeSmallImage(store, { cmd: ['pulled'] });
    const built = await writeSmallImage(store, { cmd: ['built'] });
    await writeIndexNames([['docker.io/library/ubuntu:latest', pulled.manifest], ['docker.io/user/app:1', pulled.manifest]]);
    for (const ref of ['ubuntu', 'docker.io/ubuntu', 'docker.io/library/ubuntu:latest']) {
      expect((await store.resolveImage(ref)).manifestDescriptor.digest).toBe(pulled.manifest.digest);
    }
    expect((await store.resolveImage('user/app:1')).ref).toBe('user/app:1');
    expect((await store.listImages()).map((image) => image.ref)).toEqual(['ubuntu:latest', 'user/app:1']);
    await store.tag('ubuntu', built.manifest);
    expect((await readIndex(store)).manifests.map((m) => [m.annotations?.[Annotation.refName], m.digest])).toEqual([
      ['docker.io/user/app:1', pulled.manifest.digest],
      ['ubuntu:latest', built.manifest.digest],
    ]);
    expect(await store.untag('docker.io/user/app:1')).toBe(true);
    expect(await store.untag('user/app:1')).toBe(false);
  });

  it('prefers the familiar spelling when an old store has both, and untags both', async () => {
    const short = await writeSmallImage(store, { cmd: ['short'] });
    const full = await writeSmallImage(store, { cmd: ['full'] });
    await writeIndexNames([['docker.io/library/hello:latest', full.manifest], ['hello:latest', short.manifest]]);
    expect((await store.resolveImage('docker.io/hello')).manifestDescriptor.digest).toBe(short.manifest.digest);
    expect(await store.untag('hello')).toBe(true);
    expect((await readIndex(store)).manifests).toEqual([]);
  });

  it('resolves NAME@DIGEST by the digest, and refuses an upper-case repository', async () => {
    const image = await writeSmallImage(store);
    await store.tag('hello', image.manifest);
    const resolved = await store.resolveImage(`docker.io/library/hello@${image.manifest.digest}`);
    expect(resolved.manifestDescriptor.digest).toBe(image.manifest.digest);
    await expect(store.resolveImage(`hello@${sha256Of('other')}`)).rejects.toBeInstanceOf(ImageNotFoundError);
    await expect(store.resolveImage('docker.io/Hello')).rejects.toThrow(/"docker.io\/Hello" is not a valid image reference: the repository "Hello" must be lower-case/);
    await expect(store.tag(`hello@${image.manifest.digest}`, image.manifest)).rejects.toBeInstanceOf(InvalidImageRefError);
  });

  it('keeps a name another tool wrote outside the grammar as it is', async () => {
    const image = await writeSmallImage(store);
    await writeIndexNames([['Not A Docker Name', image.manifest]]);
    expect((await store.listImages()).map((summary) => summary.ref)).toEqual(['Not A Docker Name']);
  });
});
