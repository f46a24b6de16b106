/** `ribo save` and `ribo load`: images to and from oci-archive, docker-archive and OCI layout directories. */
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor, Platform } from '../../oci/image.js';
import { normalizeImageRef } from '../../oci/reference.js';
import type { Store } from '../../store/index.js';
import { openArchiveFiles } from './archive-files.js';
import type { LoadedImage, SaveItem } from './common.js';
import { dockerArchiveChunks, loadDockerArchive } from './docker-archive.js';
import { ArchiveError } from './errors.js';
import { loadOciLayout, ociArchiveChunks } from './oci-archive.js';
import { hiddenTempPathBeside, removeStaleTempsBeside, replaceFileAtomic } from '../../files/atomic-write.js';
import { asDiskFull } from '../../files/disk-full.js';

export { ArchiveError } from './errors.js';
export type { LoadedImage } from './common.js';

export type ArchiveFormat = 'oci-archive' | 'docker-archive';

/**
 * Resolves the images to save (all first, so a typo writes nothing) and the tags each is saved under.
 * A multi-platform image is kept whole when `wholeIndex` (oci-archive) and no platform is asked for;
 * otherwise its image for `platform` (default: this machine's) is saved alone.
 */
export async function resolveSaveItems(store: Store, refs: readonly string[], options: { platform?: Platform; wholeIndex?: boolean } = {}): Promise<SaveItem[]> {
  const items = new Map<string, SaveItem>();
  const whole = options.wholeIndex === true && options.platform === undefined;
  for (const given of refs) {
    const image = await store.resolveImage(given, { platform: options.platform, wholeIndex: whole });
    const index = whole && image.index ? image.index : undefined;
    const key = index?.descriptor.digest ?? image.manifestDescriptor.digest;
    let item = items.get(key);
    if (!item) {
      item = { image, refs: [] };
      if (index) {
        const images = [];
        for (const entry of index.index.manifests) images.push(await store.resolveImage(entry.digest));
        item.index = { descriptor: index.descriptor, images };
      }
    }
    // Named by tag: saved under that tag. Named by digest: under none (docker does the same).
    if (image.ref && !item.refs.includes(image.ref)) item.refs.push(image.ref);
    items.set(key, item);
  }
  return [...items.values()];
}

export function archiveChunks(store: Store, items: readonly SaveItem[], format: ArchiveFormat): AsyncGenerator<Buffer> {
  return format === 'docker-archive' ? dockerArchiveChunks(store, items) : ociArchiveChunks(store, items);
}

/**
 * Writes the archive to a temp file beside `file` and renames it into place,
 * so `file` is either the complete archive or untouched.
 */
export async function writeArchiveFile(store: Store, items: readonly SaveItem[], format: ArchiveFormat, file: string): Promise<void> {
  const target = path.resolve(file);
  // A hidden temp name that says whose it is: what a killed save left is removed by the next one.
  const tempPath = hiddenTempPathBeside(target);
  try {
    await removeStaleTempsBeside(target);
    await replaceFileAtomic(target, (temp) => pipeline(Readable.from(archiveChunks(store, items, format), { objectMode: false }), createWriteStream(temp, { flags: 'wx' })), { tempPath });
  } catch (error) {
    if (['ENOENT', 'EACCES', 'EROFS', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) {
      throw new ArchiveError(`Cannot write ${target} (${(error as Error).message}); choose a path in a directory you can write to.`, { cause: error });
    }
    throw asDiskFull(error, `the archive ${target}`, store.root);
  }
}

export interface LoadOptions {
  /** Load only the image of this name (OCI layouts). */
  refName?: string;
  /** Set the tags the archive gives (default true). */
  tag?: boolean;
}

export interface LoadResult {
  format: 'oci-layout' | 'oci-archive' | 'docker-archive';
  images: LoadedImage[];
  /** The tags that were set, normalized. */
  tagged: string[];
}

/**
 * Loads every image of an archive or OCI layout directory into the store.
 * Blobs are verified while they stream in; tags are set only after every
 * image is complete, so a damaged archive tags nothing.
 */
export async function loadImages(store: Store, input: string, options: LoadOptions = {}): Promise<LoadResult> {
  let scratch: string | undefined;
  const files = await openArchiveFiles(input, async () => path.join((scratch = await store.makeTempDir('load')), 'archive.tar')).catch(async (error: unknown) => {
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
    throw error;
  });
  try {
    let format: LoadResult['format'];
    let images: LoadedImage[];
    if (await files.has('index.json')) {
      format = files.kind === 'directory' ? 'oci-layout' : 'oci-archive';
      images = await loadOciLayout(store, files, { refName: options.refName, normalize: normalizeImageRef });
    } else if (await files.has('manifest.json')) {
      format = 'docker-archive';
      images = await loadDockerArchive(store, files);
    } else {
      throw new ArchiveError(`${input} is neither an OCI layout (no index.json) nor a docker archive (no manifest.json). Give an archive made by ribo save, docker save, podman save or skopeo copy, or an OCI layout directory.`);
    }
    const tagged: string[] = [];
    if (options.tag !== false) {
      // Check every name before setting any.
      const plan: Array<{ ref: string; manifest: Descriptor }> = [];
      for (const image of images) {
        for (const ref of image.refs) plan.push({ ref: normalizeImageRef(ref), manifest: image.manifest });
      }
      for (const { ref, manifest } of plan) {
        await store.tag(ref, manifest);
        tagged.push(ref);
      }
    }
    return { format, images, tagged };
  } finally {
    await files.close();
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  }
}
