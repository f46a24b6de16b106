/** The layers/ directory: each layer unpacked once under its diffID, appearing whole (by a rename) or not at all. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Digest } from '../oci/image.js';
import { assertDigest, digestHex } from '../oci/digest.js';
import { asDiskFull } from '../files/disk-full.js';
import { isErrno } from '../files/errno.js';
import { ownedName } from '../files/process-identity.js';
import { removeTree } from '../files/remove-tree.js';
import type { StoreLayout } from './layout.js';

export class LayerDirs {
  constructor(private readonly layout: StoreLayout) {}

  layerDir(diffID: Digest): string {
    return path.join(this.layout.root, 'layers', digestHex(assertDigest(diffID, 'Layer diffID')));
  }

  /**
   * Make sure layer `diffID` is unpacked under layers/. `unpack` fills a
   * fresh scratch dir, which is renamed into place in one step, so a layer
   * dir either does not exist or is complete. If another process wins the
   * race, its copy is kept and ours is thrown away.
   */
  async ensureUnpacked(diffID: Digest, unpack: (tempDir: string) => Promise<void>): Promise<string> {
    const final = this.layerDir(diffID);
    if (await isDirectory(final)) return final;
    const temp = await this.layout.makeTempDir('unpack');
    try {
      await fs.chmod(temp, 0o755);
      await unpack(temp);
      await fs.rename(temp, final);
    } catch (error) {
      await removeTree(temp);
      if (isErrno(error, 'EEXIST', 'ENOTEMPTY') && (await isDirectory(final))) return final;
      throw asDiskFull(error, `layer ${diffID}, unpacked under ${path.join(this.layout.root, 'layers')}`, this.layout.root);
    }
    return final;
  }

  /**
   * A new name in layers/ owned by this process, for a tree that is a lower
   * dir before its diffID is known (a build step's, committed in the
   * background): beside the layer dirs, so one overlay can name them all
   * relative to layers/ (snapshot/mount.ts). It never looks like a diffID;
   * Store.open removes it once its owner has died.
   */
  pendingLayerDir(): string {
    return path.join(this.layout.root, 'layers', ownedName(this.layout.owner, 'pending'));
  }

  /** The diffIDs of the layers unpacked under layers/. */
  async listUnpackedLayers(): Promise<Digest[]> {
    const names = await fs.readdir(path.join(this.layout.root, 'layers'));
    return names.filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => `sha256:${name}`);
  }

  /** Delete an unpacked layer (garbage collection only: call inside withExclusiveUse). */
  async removeUnpackedLayer(diffID: Digest): Promise<void> {
    // Renamed out of layers/ first, so a crash midway never leaves half a layer that looks complete;
    // renamed as it is (no new directory to make: prune must work on a full disk) to a name Store.open cleans.
    const doomed = path.join(this.layout.tmpDir, ownedName(this.layout.owner, 'prune'));
    await fs.rename(this.layerDir(diffID), doomed);
    await removeTree(doomed);
  }
}

async function isDirectory(target: string): Promise<boolean> {
  try {
    return (await fs.stat(target)).isDirectory();
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
