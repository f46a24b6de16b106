/** `ribo build --output`: where the built image goes besides the store. */
import path from 'node:path';
import type { Digest } from '../oci/image.js';
import type { Store } from '../store/index.js';
import { resolveSaveItems, writeArchiveFile } from './archive/index.js';
import { checkOutputDir, exportRootfs } from './export-rootfs.js';

export interface BuildOutput {
  type: 'oci' | 'docker' | 'local';
  dest: string;
  /** type=local: write into a DIR that is not empty (overwrite=true). */
  overwrite?: boolean;
}

/** Writes the image `digest` (tagged `tags`) as `output` asks. */
export async function writeBuildOutput(store: Store, digest: Digest, tags: readonly string[], output: BuildOutput): Promise<void> {
  const dest = path.resolve(output.dest);
  if (output.type === 'local') {
    await exportRootfs(store, await store.resolveImage(digest), dest, { overwrite: output.overwrite });
    return;
  }
  // type=oci of a multi-platform build writes its index whole; type=docker holds one image, this machine's.
  const [item] = await resolveSaveItems(store, [digest], { wholeIndex: output.type === 'oci' });
  await writeArchiveFile(store, [{ ...item!, refs: [...tags] }], output.type === 'oci' ? 'oci-archive' : 'docker-archive', dest);
}

/** Fails before a build whose --output could not be written at its end (a local DIR that is not empty). */
export async function checkBuildOutput(output: BuildOutput): Promise<void> {
  if (output.type === 'local') await checkOutputDir(path.resolve(output.dest), { overwrite: output.overwrite });
}
