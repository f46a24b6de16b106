/**
 * `ribo run --pull`: an image that is not in the store is pulled first, as
 * `docker run` does. Only registry names are pulled; `oci:`/`oci-archive:`
 * references and image ids are read from where they name.
 */
import { RiboError, UsageError } from '../errors.js';
import { canonicalRef, parseImageRef, type ImageRef } from '../oci/reference.js';
import { pullImage } from '../registry/index.js';
import { ImageNotFoundError, type Store } from '../store/index.js';
import type { Platform } from '../oci/image.js';
import { openRegistries, stderrProgress } from './registry-options.js';

export type PullPolicy = 'missing' | 'always' | 'never';
const PULL_POLICIES: readonly PullPolicy[] = ['missing', 'always', 'never'];

export function asPullPolicy(value: unknown): PullPolicy {
  const text = String(value ?? 'missing');
  if (!(PULL_POLICIES as readonly string[]).includes(text)) {
    throw new UsageError(`--pull ${text}: choose missing (the default: pull the image when it is not in the store), always or never.`);
  }
  return text as PullPolicy;
}

/** The image was not in the store and the pull that should have brought it failed. */
export class ImagePullError extends RiboError {}

const TRANSPORT_OR_ID = /^(oci|oci-archive):|^sha256:|^[0-9a-f]{12,64}$/;

/**
 * Makes sure `image` can be run: pulls it when the policy asks. Returns the
 * reference to run it by: the manifest digest after pulling NAME@DIGEST (which
 * is not a tag in the store), else `image` itself.
 */
export async function ensureImage(opts: { store: Store; image: string; policy: PullPolicy; argv: Record<string, unknown>; env: NodeJS.ProcessEnv; platform?: Platform }): Promise<string> {
  const { store, image, policy } = opts;
  if (policy === 'never' || TRANSPORT_OR_ID.test(image)) return image;
  let ref: ImageRef;
  try {
    ref = parseImageRef(image);
  } catch {
    return image; // not a registry name: running it says what is wrong
  }
  let missing: ImageNotFoundError | undefined;
  if (policy === 'missing') {
    const local = await localReference(store, image, ref);
    if (!(local instanceof ImageNotFoundError)) return local;
    missing = local;
  }
  const registries = openRegistries(opts.argv, opts.env);
  const progress = stderrProgress();
  try {
    progress.line(missing ? `${image} is not in the store; pulling ${canonicalRef(ref)}` : `Pulling ${canonicalRef(ref)}`);
    // `run` works inside ribo's namespace: the layers are unpacked as they arrive, ready for the container.
    const result = await pullImage({ store, client: registries.client(ref.registry), ref, progress, unpack: true, ...(opts.platform ? { platform: opts.platform } : {}) });
    return ref.digest ? result.manifest.digest : image;
  } catch (error) {
    if (!missing) throw error;
    throw new ImagePullError(`No image "${image}" in the store (\`ribo images\` lists what it has), and pulling ${canonicalRef(ref)} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    progress.close();
    registries.close();
  }
}

/** How to run `image` from the store as it is, or the ImageNotFoundError that says it is not there. */
async function localReference(store: Store, image: string, ref: ImageRef): Promise<string | ImageNotFoundError> {
  // NAME@DIGEST is not a tag: the store has it when it holds that manifest.
  const reference = ref.digest ?? image;
  try {
    await store.resolveImage(reference);
    return reference;
  } catch (error) {
    if (error instanceof ImageNotFoundError) return error;
    throw error;
  }
}
