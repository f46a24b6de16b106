/** `ribo build --output`: where the built image goes besides the store. */
import path from 'node:path';
import type { Digest } from '../oci/image.js';
import type { Store } from '../store/index.js';
import { resolveSaveItems, writeArchiveFile } from './archive/index.js';
import { exportRootfs } from './export-rootfs.js';

export interface BuildOutput {
  type: 'oci' | 'docker' | 'local';
  dest: string;
}

/** Writes the image `digest` (tagged `tags`) as `output` asks. */
export async function writeBuildOutput(store: Store, digest: Digest, tags: readonly string[], output: BuildOutput): Promise<void> {
  const dest = path.resolve(output.dest);
  if (output.type === 'local') {
    await exportRootfs(store, await store.resolveImage(digest), dest);
    return;
  }
  const [item] = await resolveSaveItems(store, [digest]);
  await writeArchiveFile(store, [{ image: item!.image, refs: [...tags] }], output.type === 'oci' ? 'oci-archive' : 'docker-archive', dest);
}
