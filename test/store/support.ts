import { createHash } from 'node:crypto';
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { create as createTar } from 'tar';
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from '../../src/oci/image.js';
import type { Store } from '../../src/store/index.js';

/** A fresh temp directory; remove it with `removeTempDir`. */
export function makeTempDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `ribo-${label}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/** Stream a gzipped tar of `files` into the store; returns the layer descriptor and its diffID. */
export async function writeLayer(store: Store, files: Record<string, string>): Promise<{ layer: Descriptor; diffID: string }> {
  const source = makeTempDir('layer-src');
  try {
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(source, name)), { recursive: true });
      await fs.writeFile(path.join(source, name), content);
    }
    const uncompressed = createHash('sha256');
    const hashUncompressed = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        uncompressed.update(chunk);
        callback(null, chunk);
      },
    });
    const writer = await store.ingest();
    const tar = createTar({ cwd: source, portable: true }, Object.keys(files));
    await pipeline(tar, hashUncompressed, createGzip(), writer.stream);
    const { digest, size } = await writer.commit();
    return { layer: { mediaType: MediaType.layerTarGzip, digest, size }, diffID: `sha256:${uncompressed.digest('hex')}` };
  } finally {
    await removeTempDir(source);
  }
}

/** Write a one-layer image (config + layer + manifest) and return its parts. */
export async function writeSmallImage(
  store: Store,
  options: { created?: string; cmd?: string[]; files?: Record<string, string> } = {},
): Promise<{ manifest: Descriptor; config: Descriptor; layer: Descriptor; manifestJSON: ImageManifest; configJSON: ImageConfig }> {
  const created = options.created ?? '2024-01-02T03:04:05Z';
  const { layer, diffID } = await writeLayer(store, options.files ?? { 'hello.txt': 'hello from ribo\n' });
  const configJSON: ImageConfig = {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: options.cmd ?? ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffID] },
    // umoci stat dereferences history[].created, so every entry carries one.
    history: [{ created, created_by: 'COPY hello.txt /' }],
  };
  const config = await store.writeJSON(MediaType.imageConfig, configJSON);
  const manifestJSON: ImageManifest = { schemaVersion: 2, mediaType: MediaType.imageManifest, config, layers: [layer] };
  const manifest = await store.writeJSON(MediaType.imageManifest, manifestJSON);
  return { manifest, config, layer, manifestJSON, configJSON };
}

/** Names of entries in a directory, or [] if it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}
