import { createReadStream } from 'node:fs';
import { access, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Keyv from 'keyv';
import type { Store } from '../../store/index.js';
import { RiboError } from '../../errors.js';
import type { CachedStep } from './build-cache.js';
import { DirectoryStore } from './directory-store.js';
import { replaceFileAtomic } from '../../files/atomic-write.js';

export class CacheDirError extends RiboError {}

function blobFile(dir: string, digest: string): string {
  return path.join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/**
 * A build cache in a directory (--cache-to / --cache-from type=local): an OCI
 * image layout holding the layer blobs, plus ribo-cache/ with the step index
 * in the same format as the store's own. Copying the directory to another
 * machine carries the cache with it.
 */
export class CacheDir {
  private readonly steps: Keyv<CachedStep>;

  constructor(readonly dir: string) {
    this.steps = new Keyv<CachedStep>({ store: new DirectoryStore(path.join(dir, 'ribo-cache', 'steps')), namespace: 'step' });
  }

  /** A step from this directory, with its layer blob brought into `store` (digest verified). */
  async fetch(key: string, store: Store): Promise<CachedStep | undefined> {
    const step = (await this.steps.get(key)) ?? undefined;
    if (!step) return undefined;
    if (step.layer && !(await store.hasBlob(step.layer.descriptor.digest))) {
      const source = blobFile(this.dir, step.layer.descriptor.digest);
      if (!(await exists(source))) return undefined;
      const writer = await store.ingest();
      try {
        await new Promise<void>((resolve, reject) => {
          const input = createReadStream(source);
          input.on('error', reject);
          writer.stream.on('error', reject);
          input.pipe(writer.stream as NodeJS.WritableStream).on('finish', resolve);
        });
        await writer.commit({ digest: step.layer.descriptor.digest, size: step.layer.descriptor.size });
      } catch (error) {
        await writer.abort();
        throw new CacheDirError(`The cache in ${this.dir} holds a damaged layer ${step.layer.descriptor.digest}; remove that directory's cache or rebuild with --no-cache.`, { cause: error });
      }
    }
    return step;
  }

  /** Adds steps and their layer blobs; blobs already there are kept. */
  async store(steps: Map<string, CachedStep>, store: Store): Promise<void> {
    await mkdir(path.join(this.dir, 'blobs', 'sha256'), { recursive: true });
    if (!(await exists(path.join(this.dir, 'oci-layout')))) {
      await writeFile(path.join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
      await writeFile(path.join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [] }));
    }
    for (const [key, step] of steps) {
      if (step.layer) {
        const target = blobFile(this.dir, step.layer.descriptor.digest);
        if (!(await exists(target))) {
          await replaceFileAtomic(target, (temp) => copyFile(store.blobPath(step.layer!.descriptor.digest), temp));
        }
      }
      await this.steps.set(key, step);
    }
  }
}
