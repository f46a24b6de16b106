/**
 * The store's index.json: the list of tagged images, read whole and replaced
 * whole, and how its ref.name annotations are matched against image names.
 */
import { promises as fs } from 'node:fs';
import { Annotation, type Descriptor, type ImageIndex } from '../oci/image.js';
import { comparableName, normalizeImageRef } from '../oci/reference.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { asDiskFull, diskFullCause } from '../files/disk-full.js';
import { StoreLayoutError } from './errors.js';

export class IndexFile {
  /** `tempPath` names the temp file a replacement is written to (in the store's ingest area). */
  constructor(private readonly root: string, private readonly path: string, private readonly tempPath: () => string) {}

  async read(): Promise<ImageIndex> {
    const text = await fs.readFile(this.path, 'utf8');
    let index: ImageIndex;
    try {
      index = JSON.parse(text) as ImageIndex;
    } catch (error) {
      throw new StoreLayoutError(this.root, `${this.path} is not valid JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(index.manifests)) throw new StoreLayoutError(this.root, `${this.path} has no "manifests" array`);
    return index;
  }

  /** Read-modify-write; the caller holds the store lock. */
  async update<T>(change: (index: ImageIndex) => T): Promise<T> {
    const index = await this.read();
    const result = change(index);
    await this.write(JSON.stringify(index, null, 2) + '\n');
    return result;
  }

  /**
   * Replaces index.json atomically (temp file, fsync, rename). On a full disk
   * that needs a new block even when the index shrinks (`rmi`, the first step
   * of freeing space), so then a text no longer than the old one is written
   * over it in place, padded with spaces (valid JSON), in one write into the
   * blocks the file already has; otherwise DiskFullError.
   */
  private async write(text: string): Promise<void> {
    try {
      await writeFileAtomic(this.path, text, { tempPath: this.tempPath(), mode: 0o644, fsync: true });
    } catch (error) {
      if (!diskFullCause(error)) throw error;
      if (!(await this.overwriteInPlace(text))) throw asDiskFull(error, `${this.path} (the store's list of tags)`, this.root);
    }
  }

  private async overwriteInPlace(text: string): Promise<boolean> {
    const handle = await fs.open(this.path, 'r+');
    try {
      const oldSize = (await handle.stat()).size;
      const bytes = Buffer.from(text, 'utf8');
      if (bytes.length > oldSize) return false;
      const padded = Buffer.concat([bytes.subarray(0, bytes.length - 1), Buffer.alloc(oldSize - bytes.length, ' '), Buffer.from('\n')]);
      const { bytesWritten } = await handle.write(padded, 0, padded.length, 0);
      if (bytesWritten !== padded.length) return false;
      await handle.sync();
      return true;
    } catch (error) {
      if (diskFullCause(error)) return false;
      throw error;
    } finally {
      await handle.close();
    }
  }
}

/** When this store got the image: an annotation of its index.json entries, outside the image (whose digests stay reproducible). */
export const RECEIVED_ANNOTATION = 'dev.ribo.store.received';

export function refNameOf(descriptor: Descriptor): string | undefined {
  return descriptor.annotations?.[Annotation.refName];
}

/** Does this index.json entry carry the familiar NAME:TAG `name`, in any spelling? */
export function namedAs(name: string): (descriptor: Descriptor) => boolean {
  const wanted = comparableName(name);
  return (descriptor) => {
    const stored = refNameOf(descriptor);
    return stored !== undefined && (stored === name || (wanted !== undefined && comparableName(stored) === wanted));
  };
}

/** A stored ref.name as users read it; names another tool wrote outside the grammar stay as they are. */
export function familiarSpelling(stored: string): string {
  return comparableName(stored) === undefined ? stored : normalizeImageRef(stored);
}

/**
 * Marks an entry ribo keeps only so an image whose last tag moved to another
 * image (a rebuild, a pull of a newer one), or one built or loaded without a
 * name, is listed as `<none>`, as docker lists dangling images: `ribo
 * images` then reads index.json alone. `ribo prune` drops these entries.
 */
export const UNTAGGED_ANNOTATION = 'dev.ribo.store.untagged';

export function isKeptUntagged(descriptor: Descriptor): boolean {
  return refNameOf(descriptor) === undefined && descriptor.annotations?.[UNTAGGED_ANNOTATION] === 'true';
}

/** The entry that keeps `image` listed without a name; its arrival time is kept. */
export function untaggedEntry(image: Descriptor, received: string): Descriptor {
  return {
    mediaType: image.mediaType,
    digest: image.digest,
    size: image.size,
    ...(image.platform ? { platform: image.platform } : {}),
    annotations: { [UNTAGGED_ANNOTATION]: 'true', [RECEIVED_ANNOTATION]: received },
  };
}

/** After `removed` left the index: the images no entry names any more stay listed, untagged. */
export function keepDangling(index: ImageIndex, removed: Descriptor[]): void {
  for (const old of removed) {
    if (index.manifests.some((entry) => entry.digest === old.digest)) continue;
    index.manifests.push(untaggedEntry(old, old.annotations?.[RECEIVED_ANNOTATION] ?? new Date().toISOString()));
  }
}
