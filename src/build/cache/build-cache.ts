import { createHash } from 'node:crypto';
import path from 'node:path';
import Keyv from 'keyv';
import type { Descriptor, Digest, HistoryEntry } from '../../oci/image.js';
import { DirectoryStore } from './directory-store.js';
import type { Store } from '../../store/index.js';

/** Everything that decides a step's result, by name (for --explain). */
export type StepInputs = Record<string, string>;

/** What a step produced, enough to reuse it without running it. */
export interface CachedStep {
  layer?: { descriptor: Descriptor; diffID: Digest };
  history: HistoryEntry;
}

/** Somewhere cached steps can come from besides the store (--cache-from). */
export interface CacheImport {
  /** The step under `key`, with its layer blob brought into `store`; undefined when not there. */
  fetch(key: string, store: Store): Promise<CachedStep | undefined>;
}

/** Somewhere a build's steps can be written to (--cache-to). */
export interface CacheExport {
  store(steps: Map<string, CachedStep>, store: Store): Promise<void>;
}

interface PositionRecord {
  parentKey: string;
  inputs: StepInputs;
}

/** The layer a step made last time at its Dockerfile position with the same inputs (whatever its parent). */
export interface LastLayer {
  descriptor: Descriptor;
  diffID: Digest;
  /** Whether that layer was the same as the one made the time before; unknown after the first. */
  reproduced?: boolean;
}

/** A step's key: its parent step's key and its own inputs, so a change invalidates everything after it. */
export function stepKey(parentKey: string, inputs: StepInputs): string {
  const hash = createHash('sha256').update(parentKey).update('\0');
  for (const name of Object.keys(inputs).sort()) hash.update(`${name}\0${inputs[name]}\0`);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The build cache index, kept with Keyv on a directory store inside the image
 * store (`cache/`). Layers themselves are ordinary blobs; the index maps step
 * keys to them. It also remembers, per Dockerfile position, the inputs last
 * seen there, so a rebuilt step can say which input changed.
 */
export class BuildCache {
  private readonly steps: Keyv<CachedStep>;
  private readonly positions: Keyv<PositionRecord>;
  private readonly lastLayers: Keyv<LastLayer>;

  constructor(storeRoot: string) {
    const dir = path.join(storeRoot, 'cache');
    this.lastLayers = new Keyv<LastLayer>({ store: new DirectoryStore(path.join(dir, 'last-layers')), namespace: 'last-layer' });
    this.steps = new Keyv<CachedStep>({ store: new DirectoryStore(path.join(dir, 'steps')), namespace: 'step' });
    this.positions = new Keyv<PositionRecord>({ store: new DirectoryStore(path.join(dir, 'positions')), namespace: 'position' });
  }

  /** The step stored under `key` here, else in the first --cache-from directory that has it. */
  async lookup(key: string, store: Store, imports: readonly CacheImport[] = []): Promise<CachedStep | undefined> {
    const local = (await this.steps.get(key)) ?? undefined;
    if (local) return local;
    for (const dir of imports) {
      const step = await dir.fetch(key, store);
      if (step) {
        await this.record(key, step);
        return step;
      }
    }
    return undefined;
  }

  async record(key: string, step: CachedStep): Promise<void> {
    await this.steps.set(key, step);
  }

  /** Says why the step at `position` did not hit the cache, compared with the last build there. */
  async explain(position: string, parentKey: string, inputs: StepInputs): Promise<string> {
    const previous = await this.positions.get(position);
    await this.positions.set(position, { parentKey, inputs });
    if (!previous) return 'not built before';
    if (previous.parentKey !== parentKey) return 'an earlier step changed';
    const changed = Object.keys({ ...previous.inputs, ...inputs }).filter((name) => previous.inputs[name] !== inputs[name]);
    return changed.length > 0 ? `changed: ${changed.sort().join(', ')}` : 'its result is no longer in the store';
  }

  /** Records what the step at `position` was built from, for later explanations. */
  async remember(position: string, parentKey: string, inputs: StepInputs): Promise<void> {
    await this.positions.set(position, { parentKey, inputs });
  }

  /**
   * A step whose parent changed but whose own inputs did not often makes the
   * same layer again (a RUN after a changed COPY): the layer it made last time
   * is worth checking for before compressing a new one.
   */
  async lastLayer(position: string, inputs: StepInputs): Promise<LastLayer | undefined> {
    return (await this.lastLayers.get(stepKey(position, inputs))) ?? undefined;
  }

  async recordLastLayer(position: string, inputs: StepInputs, layer: LastLayer): Promise<void> {
    await this.lastLayers.set(stepKey(position, inputs), layer);
  }
}
