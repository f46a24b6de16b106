/**
 * The uncompressed size of each layer, measured once and kept in the store
 * (`layer-sizes/<diffID hex>`, the number as text), for the SIZE that
 * `ribo images` shows. Outside the image layout: nothing in an image
 * changes, and a lost file is only measured again.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Digest } from '../oci/image.js';
import { digestHex } from '../oci/digest.js';
import { hiddenTempPathBeside, writeFileAtomic } from '../files/atomic-write.js';
import { isErrno } from '../files/errno.js';

export class LayerSizes {
  constructor(private readonly storeRoot: string) {}

  private file(diffID: Digest): string {
    return path.join(this.storeRoot, 'layer-sizes', digestHex(diffID));
  }

  async get(diffID: Digest): Promise<number | undefined> {
    try {
      const size = Number((await fs.readFile(this.file(diffID), 'utf8')).trim());
      return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** The layers whose size is kept (`ribo prune` forgets those of layers no image uses). */
  async list(): Promise<Digest[]> {
    const names = await fs.readdir(path.join(this.storeRoot, 'layer-sizes')).catch((error: unknown) => {
      if (isErrno(error, 'ENOENT')) return [] as string[];
      throw error;
    });
    return names.filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => `sha256:${name}` as Digest);
  }

  async remove(diffID: Digest): Promise<void> {
    await fs.rm(this.file(diffID), { force: true });
  }

  /** Best effort: a store that cannot be written (a full disk) just measures again next time. */
  async put(diffID: Digest, size: number): Promise<void> {
    const file = this.file(diffID);
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, `${size}\n`, { tempPath: hiddenTempPathBeside(file) });
    } catch (error) {
      if (!isErrno(error, 'ENOSPC', 'EDQUOT', 'EACCES', 'EROFS')) throw error;
    }
  }
}
