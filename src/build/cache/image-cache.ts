/**
 * Inline build cache, as BuildKit's `--cache-to type=inline` and
 * `--cache-from IMAGE` let docker do: the image's config carries the keys
 * of the steps that made it (a field of its own, ignored by everything else
 * that reads the config), each with the layer (one of the image's own) and
 * history entry it produced. A later build, in any store, that names the
 * image with --cache-from reuses those steps when its own keys match, with
 * the layers taken from the image (pulled first when the store lacks it).
 * Written only on request, so ordinary images stay as they were.
 */
import type { ImageConfig } from '../../oci/image.js';
import type { ResolvedImage, Store } from '../../store/index.js';
import type { CacheImport, CachedStep } from './build-cache.js';
import type { LayerRef } from '../../image/layers.js';

/** The config field (as BuildKit's "moby.buildkit.cache.v0"). */
export const INLINE_CACHE_FIELD = 'io.ribo.build-cache.v1';

type WithInlineCache = ImageConfig & { [INLINE_CACHE_FIELD]?: { steps?: Record<string, CachedStep> } };

/** `config` with the steps whose layers are among `layers` (or that made none) written in. */
export function withInlineCache(config: ImageConfig, steps: Map<string, CachedStep>, layers: LayerRef[]): ImageConfig {
  const own = new Set(layers.map((l) => l.descriptor.digest));
  const kept: Record<string, CachedStep> = {};
  for (const [key, step] of [...steps].sort(([a], [b]) => a.localeCompare(b))) {
    if (!step.layer || own.has(step.layer.descriptor.digest)) kept[key] = step;
  }
  return { ...config, [INLINE_CACHE_FIELD]: { steps: kept } } as ImageConfig;
}

/** A base image's inline cache is not the cache of what is built on it. */
export function withoutInlineCache(config: ImageConfig): ImageConfig {
  const { [INLINE_CACHE_FIELD]: _cache, ...rest } = config as WithInlineCache;
  return rest;
}

/** --cache-from IMAGE: the image is found (or pulled) at the first lookup. */
export class ImageCache implements CacheImport {
  private steps?: Promise<Record<string, CachedStep>>;

  /** `resolve` finds the image, pulling it when needed; `noCache` is told when it carries no inline cache. */
  constructor(
    private readonly resolve: () => Promise<ResolvedImage>,
    private readonly noCache: () => void,
  ) {}

  private async load(): Promise<Record<string, CachedStep>> {
    const image = await this.resolve();
    const steps = (image.config as WithInlineCache)[INLINE_CACHE_FIELD]?.steps;
    if (!steps) this.noCache();
    return steps ?? {};
  }

  async fetch(key: string, store: Store): Promise<CachedStep | undefined> {
    this.steps ??= this.load();
    const step = (await this.steps)[key];
    // The layers are the image's own, in the store with it; a step whose blob went missing is not reused.
    if (step?.layer && !(await store.hasBlob(step.layer.descriptor.digest))) return undefined;
    return step;
  }
}
