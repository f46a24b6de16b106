/**
 * The images a build starts from (FROM) or copies out of (COPY --from, RUN
 * --mount from=): taken from the store, pulled when missing, or with
 * `--pull` always looked up in the registry first, as docker build --pull
 * does (an image only in the store then fails, as there). A failed pull is
 * reported at the Dockerfile line that asked for the image.
 */
import type { SourceLocation, Stage } from '../dockerfile/commands.js';
import { closestMatch } from '../dockerfile/suggest.js';
import { InvalidImageRefError } from '../oci/reference.js';
import { RiboError, UsageError } from '../errors.js';
import { ImageNotFoundError, NoPlatformManifestError, type ResolvedImage, type Store } from '../store/index.js';
import { formatPlatform, hostPlatform, type Platform } from '../dockerfile/index.js';
import { BuildStepError } from './errors.js';

export interface ImageSourceOptions {
  store: Store;
  /** Fetches an image into the store for a platform; resolves to its manifest digest. */
  pullImage?: (ref: string, store: Store, platform: Platform) => Promise<string>;
  /** --pull: look for a newer image in the registry even when the store has one. */
  pull?: boolean;
}

/** What the store is asked for: an image for `platform` only when `wanted` says so (a single-platform image is taken as it is otherwise). */
export interface PlatformRequest {
  platform: Platform;
  wanted: { platform?: Platform };
}

/** An image id or digest (prefix): never pulled. */
const IMAGE_ID = /^(sha256:)?[0-9a-f]{12,64}$/;
/** What a stage name may be (BuildKit: letters, digits, "-", "_", "."), so a reference with "/" or ":" is never taken for a misspelt stage. */
const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/i;

type Failure = (message: string, cause: unknown) => RiboError;

export class ImageSources {
  /** One pull per reference, platform and build, however many stages name it. */
  private readonly pulls = new Map<string, Promise<string>>();

  constructor(private readonly opts: ImageSourceOptions) {}

  /** The image `ref` names, for the instruction at `location`. */
  resolve(ref: string, location: SourceLocation, request: PlatformRequest): Promise<ResolvedImage> {
    return this.resolveOr(ref, (message, cause) => new BuildStepError(message, location, { cause }), request, this.opts.pull === true);
  }

  /** The image a flag (--cache-from) names, for this machine: from the store, else pulled; failures name the flag. */
  resolveForFlag(ref: string, flag: string): Promise<ResolvedImage> {
    return this.resolveOr(ref, (message, cause) => new RiboError(`${flag} ${ref}: ${message}`, { cause }), { platform: hostPlatform(), wanted: {} }, false);
  }

  private async resolveOr(ref: string, fail: Failure, request: PlatformRequest, pull: boolean): Promise<ResolvedImage> {
    const { store, pullImage } = this.opts;
    const { platform, wanted } = request;
    if (pull && pullImage && !IMAGE_ID.test(ref)) return store.resolveImage(await this.pullOnce(ref, platform, fail, 'pull'), wanted);
    try {
      return await store.resolveImage(ref, wanted);
    } catch (error) {
      if (error instanceof InvalidImageRefError) throw fail(error.message, error);
      // The store has the name but not for this platform: the registry may have it.
      const otherPlatform = error instanceof NoPlatformManifestError && !ref.startsWith('sha256:');
      if (error instanceof NoPlatformManifestError && (!otherPlatform || !pullImage)) throw fail(error.message, error);
      const notLocal = otherPlatform || error instanceof ImageNotFoundError || (ref.includes('@') && !ref.startsWith('sha256:'));
      if (!notLocal || !pullImage) throw error;
      if (!otherPlatform) return store.resolveImage(await this.pullOnce(ref, platform, fail, 'missing'), wanted);
      try {
        return await store.resolveImage(await this.pullOnce(ref, platform, fail, 'platform'), wanted);
      } catch (pullError) {
        throw fail(`${(error as Error).message} Pulling it for ${formatPlatform(platform)} failed too: ${(pullError as Error).message}`, pullError);
      }
    }
  }

  private pullOnce(ref: string, platform: Platform, fail: Failure, why: 'missing' | 'pull' | 'platform'): Promise<string> {
    const id = `${ref} ${formatPlatform(platform)}`;
    let pending = this.pulls.get(id);
    if (!pending) {
      pending = this.opts.pullImage!(ref, this.opts.store, platform).catch((error: unknown) => {
        if (why === 'platform' || !(error instanceof RiboError) || error instanceof BuildStepError) throw error;
        const what = why === 'missing' ? `${ref} is not in the store and could not be pulled` : `${ref} could not be pulled (--pull looks in the registry even for an image the store has)`;
        throw fail(`${what}: ${error.message}`, error);
      });
      this.pulls.set(id, pending);
    }
    return pending;
  }
}

/**
 * `--from=NAME` that names no stage but is a likely misspelling of one
 * (`ones` for `one`): the stage it probably means, so the build can say so
 * before trying the registry for an image called NAME.
 */
export function misspeltStage(from: string, stages: Stage[]): Stage | undefined {
  if (!STAGE_NAME.test(from)) return undefined;
  const names = stages.map((s) => s.name).filter((name): name is string => name !== undefined);
  const close = closestMatch(from, names);
  return close === undefined ? undefined : stages.find((s) => s.name === close);
}

/** --no-cache-filter's stages (names or indexes) as indexes; a name no stage has is an error naming the stages there are. */
export function stageIndexes(names: string[], stages: Stage[]): Set<number> {
  const indexes = new Set<number>();
  for (const name of names) {
    const stage = stages.find((s) => s.name === name.toLowerCase() || String(s.index) === name);
    if (!stage) {
      const known = stages.map((s) => s.name ?? String(s.index)).join(', ');
      throw new UsageError(`--no-cache-filter ${name}: the Dockerfile has no stage of that name (its stages: ${known}).`);
    }
    indexes.add(stage.index);
  }
  return indexes;
}
