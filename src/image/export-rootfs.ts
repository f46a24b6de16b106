/**
 * `ribo build --output type=local,dest=DIR`: an image's filesystem, its layers
 * applied in order, written as plain files owned by the user who runs ribo
 * (as BuildKit's local exporter does), so they can be used and removed freely.
 *
 * The layers are merged in a fresh directory of their own (inside DIR, so the
 * result is moved in by rename), never in DIR itself: a layer's whiteouts and
 * opaque directories delete what lower layers of the image wrote, and must not
 * reach the files DIR held before. A DIR that holds anything is refused unless
 * the caller allows overwriting; then the image's files replace same-named
 * files of DIR and its directories are merged into DIR's, nothing else is removed.
 */
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RiboError } from '../errors.js';
import { removeTree } from '../files/remove-tree.js';
import { LayerApplier } from '../layer/apply.js';
import { decompressedLayer } from '../layer/compression.js';
import { readTar } from '../layer/index.js';
import type { ResolvedImage, Store } from '../store/index.js';
import { imageLayerRefs } from './layers.js';

/** `--output type=local` names a directory that already holds files, without overwrite=true. */
export class OutputDirNotEmptyError extends RiboError {}

export interface ExportRootfsOptions {
  /** Write into a DIR that is not empty (the image's files replace DIR's files of the same name). */
  overwrite?: boolean;
}

/** Refuses a DIR that holds files unless `overwrite`; run before a build too, so it fails before the work. */
export async function checkOutputDir(dir: string, opts: ExportRootfsOptions): Promise<void> {
  if (opts.overwrite) return;
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    if (error.code === 'ENOTDIR') throw new OutputDirNotEmptyError(`--output type=local,dest=${dir}: ${dir} is a file, not a directory. Give a new or empty directory.`);
    throw error;
  });
  if (names.length > 0) {
    throw new OutputDirNotEmptyError(
      `--output type=local,dest=${dir}: ${dir} is not empty (it holds ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}). ` +
        `Give a new or empty directory, or add overwrite=true (--output type=local,dest=${dir},overwrite=true) to write the image's files over it; nothing of it is deleted.`,
    );
  }
}

export async function exportRootfs(store: Store, image: ResolvedImage, dir: string, opts: ExportRootfsOptions = {}): Promise<void> {
  await checkOutputDir(dir, opts);
  await mkdir(dir, { recursive: true });
  const scratch = path.join(dir, `.ribo-output-${process.pid}-${Date.now()}`);
  await mkdir(scratch, { mode: 0o700 });
  try {
    await applyImageLayers(store, image, scratch);
    await moveInto(scratch, dir);
  } finally {
    await removeTree(scratch);
  }
}

async function applyImageLayers(store: Store, image: ResolvedImage, dir: string): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  for (const layer of imageLayerRefs(image.manifest, image.config, image.ref ?? image.manifestDescriptor.digest)) {
    const applier = new LayerApplier(dir, 'merge');
    try {
      for await (const entry of readTar(decompressedLayer(store.openBlob(layer.descriptor.digest)))) {
        // Owners and security xattrs belong to the image, not to files handed to the user.
        await applier.apply({ ...entry, uid, gid, xattrs: new Map() });
      }
      await applier.finish();
    } catch (error) {
      applier.abandon();
      throw error;
    }
  }
}

/**
 * Moves each entry of `from` to the same name in `to`: a directory onto an
 * existing directory is merged (its own mode and times are the image's only
 * when it is new), anything else replaces what `to` has under that name.
 */
async function moveInto(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const source = path.join(from, name);
    const target = path.join(to, name);
    const [sourceInfo, targetInfo] = await Promise.all([lstat(source), lstat(target).catch(() => undefined)]);
    if (sourceInfo.isDirectory() && targetInfo?.isDirectory()) {
      await moveInto(source, target);
      continue;
    }
    if (targetInfo) await rm(target, { recursive: true, force: true });
    await rename(source, target);
  }
}
