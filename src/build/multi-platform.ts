/**
 * `ribo build --platform A,B,...`: one build per target platform, run side by
 * side (as many at once as `jobs` allows), whose images become one OCI image
 * index that the tags name. The builds share the numbering of steps and the
 * steps they have in common (SharedBuildWork): a stage FROM
 * --platform=$BUILDPLATFORM that does not read the target's ARGs has the same
 * cache keys in every build, so it runs once, natively, and all use it.
 */
import { MediaType, type Descriptor, type ImageIndex } from '../oci/image.js';
import { formatPlatform, type Platform } from '../dockerfile/index.js';
import { build, NeedsNamespaceError, type BuildOptions, type BuildResult } from './builder.js';
import { SharedBuildWork } from './shared-work.js';
import { BuildStepError } from './errors.js';

export interface PlatformBuildResult extends BuildResult {
  /** One entry per platform of a multi-platform build, in the order asked for. */
  images?: Array<{ platform: Platform; manifest: Descriptor }>;
}

/** Builds for each platform (none: this machine's); more than one makes an index. */
export async function buildForPlatforms(opts: BuildOptions, platforms: readonly Platform[]): Promise<PlatformBuildResult> {
  if (platforms.length <= 1) return build({ ...opts, platform: platforms[0] });
  const names = platforms.map(formatPlatform);
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated) throw new BuildStepError(`--platform names ${repeated} twice; give each platform once.`, { file: opts.dockerfile, startLine: 1, endLine: 1 });
  const shared = new SharedBuildWork();
  const started = Date.now();
  const reporter = opts.reporter;
  reporter.report({ type: 'build-start', time: started, dockerfile: opts.dockerfile, context: opts.contextDir ?? '(none)' });
  const results: BuildResult[] = new Array(platforms.length);
  const queue = platforms.map((platform, i) => ({ platform, i }));
  // Each platform's build reports its own start and end; the index is the build's result.
  const limit = Math.max(1, Math.min(opts.jobs ?? 1, platforms.length));
  try {
    await Promise.all(Array.from({ length: limit }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        results[next.i] = await build({ ...opts, platform: next.platform, tags: [], shared, cacheTo: undefined, cacheExports: undefined });
      }
    }));
  } catch (error) {
    if (!(error instanceof NeedsNamespaceError)) reporter.report({ type: 'build-failed', time: Date.now(), durationMs: Date.now() - started, message: error instanceof Error ? error.message : String(error) });
    throw error;
  }
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.imageIndex,
    manifests: results.map((result, i) => ({ ...result.manifest, platform: descriptorPlatform(platforms[i]!) })),
  };
  const descriptor = await opts.store.writeJSON(MediaType.imageIndex, index);
  for (const tag of opts.tags) await opts.store.tag(tag, descriptor);
  reporter.report({ type: 'info', time: Date.now(), message: `image index ${descriptor.digest} with ${names.join(', ')}` });
  reporter.report({ type: 'build-done', time: Date.now(), image: descriptor.digest, tags: opts.tags, durationMs: Date.now() - started });
  return { manifest: descriptor, config: results[0]!.config, tags: opts.tags, images: results.map((r, i) => ({ platform: platforms[i]!, manifest: r.manifest })) };
}

function descriptorPlatform(p: Platform): Platform {
  return { architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}) };
}
