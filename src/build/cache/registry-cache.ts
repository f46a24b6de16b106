import { MediaType, type Descriptor, type ImageManifest } from '../../oci/image.js';
import { sha256Of } from '../../oci/digest.js';
import { RiboError } from '../../errors.js';
import type { Store } from '../../store/index.js';
import { canonicalJSON } from '../../store/canonical-json.js';
import { canonicalRef, type ImageRef } from '../../oci/reference.js';
import { fetchBlob, ManifestUnknownError, pushBlob, type RegistryClient, type TransferProgress } from '../../registry/index.js';
import { readBody } from '../../registry/http.js';
import type { CacheExport, CacheImport, CachedStep } from './build-cache.js';

/** The artifact type of a ribo build cache in a registry, and of its step index (the manifest's config blob). */
export const CACHE_ARTIFACT_TYPE = 'application/vnd.ribo.build-cache.v1';
export const CACHE_INDEX_TYPE = 'application/vnd.ribo.build-cache.index.v1+json';

interface CacheIndex {
  steps: Record<string, CachedStep>;
}

export class RegistryCacheError extends RiboError {}

/**
 * A build cache kept in a registry (--cache-to / --cache-from
 * type=registry,ref=REF): an OCI image manifest whose config blob is the step
 * index (step key -> layer descriptor, diffID, history entry) and whose layers
 * are the layer blobs those steps made. Importing reads the index once and
 * fetches a layer blob only when a step of the build hits it; exporting pushes
 * the layers the registry lacks, then the index, then the manifest.
 */
export class RegistryCache implements CacheImport, CacheExport {
  private index?: Promise<CacheIndex>;

  constructor(
    private readonly client: RegistryClient,
    private readonly ref: ImageRef,
    private readonly progress: TransferProgress,
  ) {}

  private loadIndex(): Promise<CacheIndex> {
    this.index ??= this.readIndex();
    return this.index;
  }

  private async readIndex(): Promise<CacheIndex> {
    let manifest: ImageManifest;
    try {
      const fetched = await this.client.getManifest(this.ref.repository, this.ref.digest ?? this.ref.tag ?? 'latest', [MediaType.imageManifest]);
      manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
    } catch (error) {
      // No cache there yet (the first build of a pipeline): build without it.
      if (error instanceof ManifestUnknownError) {
        this.progress.line(`No build cache at ${canonicalRef(this.ref)} yet`);
        return { steps: {} };
      }
      throw error;
    }
    if (manifest.config?.mediaType !== CACHE_INDEX_TYPE) {
      throw new RegistryCacheError(`${canonicalRef(this.ref)} is not a ribo build cache (its config is ${manifest.config?.mediaType}); give --cache-from a ref that --cache-to type=registry wrote.`);
    }
    const response = await this.client.getBlob(this.ref.repository, manifest.config.digest);
    const bytes = await readBody(response, 64 * 1024 * 1024);
    if (sha256Of(bytes) !== manifest.config.digest) throw new RegistryCacheError(`The build cache index ${manifest.config.digest} at ${canonicalRef(this.ref)} does not match its digest; the registry's copy is corrupt. Build once with --cache-to to replace it.`);
    const index = JSON.parse(bytes.toString('utf8')) as CacheIndex;
    return { steps: index.steps ?? {} };
  }

  async fetch(key: string, store: Store): Promise<CachedStep | undefined> {
    const step = (await this.loadIndex()).steps[key];
    if (!step) return undefined;
    if (step.layer && !(await store.hasBlob(step.layer.descriptor.digest))) {
      await fetchBlob({ store, client: this.client, ref: this.ref, progress: this.progress }, step.layer.descriptor);
    }
    return step;
  }

  /** Replaces the cache at the ref with this build's steps. */
  async store(steps: Map<string, CachedStep>, store: Store): Promise<void> {
    const layers = new Map<string, Descriptor>();
    for (const step of steps.values()) if (step.layer) layers.set(step.layer.descriptor.digest, step.layer.descriptor);
    const options = { store, client: this.client, ref: this.ref, progress: this.progress };
    for (const layer of layers.values()) await pushBlob(options, layer);
    const indexDescriptor = await store.writeJSON(CACHE_INDEX_TYPE, { steps: Object.fromEntries(steps) } satisfies CacheIndex);
    await pushBlob(options, indexDescriptor);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.imageManifest,
      artifactType: CACHE_ARTIFACT_TYPE,
      config: indexDescriptor,
      layers: [...layers.values()],
    };
    await this.client.putManifest(this.ref.repository, this.ref.tag ?? 'latest', MediaType.imageManifest, Buffer.from(canonicalJSON(manifest), 'utf8'));
    this.progress.line(`Exported the build cache (${steps.size} steps, ${layers.size} layers) to ${canonicalRef(this.ref)}`);
  }
}
