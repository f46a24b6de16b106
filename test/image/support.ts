/** Images made from tar entries written directly, for tests of image-level operations. */
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeCompressedLayer } from '../../src/layer/compression.js';
import { tarChunks, type TarWriterEntry } from '../../src/layer/index.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageManifest } from '../../src/oci/image.js';
import type { Store } from '../../src/store/index.js';

export function makeTempDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `ribo-${label}-`));
}

export async function removeTempDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

type Spec = { path: string; type?: TarWriterEntry['type']; content?: string; linkTarget?: string; mode?: number; uid?: number };

export function entry(spec: Spec): TarWriterEntry {
  const type = spec.type ?? (spec.path.endsWith('/') ? 'directory' : 'file');
  const content = Buffer.from(spec.content ?? '');
  return {
    path: spec.path,
    type,
    mode: spec.mode ?? (type === 'directory' ? 0o755 : 0o644),
    uid: spec.uid ?? 0,
    gid: spec.uid ?? 0,
    size: type === 'file' ? content.length : 0,
    mtime: 0,
    ...(spec.linkTarget ? { linkTarget: spec.linkTarget } : {}),
    ...(type === 'file' ? { content: () => [content] } : {}),
  };
}

/** Stores an image whose layers hold exactly `layers` (each a list of entries); tags it `ref`. */
export async function storeImage(store: Store, ref: string, layers: Spec[][], history?: string[]): Promise<Descriptor> {
  const descriptors: Descriptor[] = [];
  const diffIDs: string[] = [];
  for (const specs of layers) {
    const writer = await store.ingest();
    const layer = await writeCompressedLayer(tarChunks(specs.map(entry)), writer.stream, 'gzip');
    await writer.commit({ digest: layer.digest, size: layer.size });
    descriptors.push({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size });
    diffIDs.push(layer.diffID);
  }
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: diffIDs },
    history: layers.map((_, i) => ({ created_by: history?.[i] ?? `step ${i + 1}` })),
  };
  const configDescriptor = await store.writeJSON(MediaType.imageConfig, config);
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.imageManifest, config: configDescriptor, layers: descriptors };
  const manifestDescriptor = await store.writeJSON(MediaType.imageManifest, manifest);
  await store.tag(ref, manifestDescriptor);
  return manifestDescriptor;
}
