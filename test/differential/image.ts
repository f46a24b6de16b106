/**
 * Finds an image's config and layer files on disk, as another tool would:
 * ribo's from its store (an OCI image layout, docs/store.md), buildah's from a
 * `buildah push IMG dir:DIR` copy (manifest.json plus one file per blob, named
 * by hex digest). The dir: transport keeps buildah's docker-format config as
 * it is; `oci:` would convert it and drop Healthcheck, Shell and OnBuild.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ImageFiles {
  config: Record<string, any>;
  layers: string[];
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

export async function readRiboImage(root: string, refName: string): Promise<ImageFiles> {
  const blob = (digest: string) => path.join(root, 'blobs', 'sha256', hex(digest));
  const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8'));
  const entry = index.manifests.find((m: any) => m.annotations?.['org.opencontainers.image.ref.name'] === refName);
  if (!entry) throw new Error(`ribo's store ${root} has no image ${refName}`);
  const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  return { config, layers: manifest.layers.map((l: { digest: string }) => blob(l.digest)) };
}

export async function readDirImage(dir: string): Promise<ImageFiles> {
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  const config = JSON.parse(await readFile(path.join(dir, hex(manifest.config.digest)), 'utf8'));
  return { config, layers: manifest.layers.map((l: { digest: string }) => path.join(dir, hex(l.digest))) };
}
