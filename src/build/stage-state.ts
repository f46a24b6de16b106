import type { HistoryEntry, ImageConfig, Platform } from '../oci/image.js';
import type { LayerRef } from '../image/layers.js';
import { envToMap } from '../image/env.js';
import { hostArchitecture } from '../image/platform.js';

/** The image a stage has built so far. */
export interface StageState {
  layers: LayerRef[];
  config: ImageConfig;
  history: HistoryEntry[];
  /** ARGs declared in this stage (or predefined), with their values. */
  args: Map<string, string>;
  /** Whether CMD was set in this stage: ENTRYPOINT clears an inherited CMD only. */
  cmdSetHere: boolean;
  /** Cache key of the last step: it covers the base and every step so far. */
  cacheKey: string;
  /** The platform the stage builds for (its RUN steps run as); unset: this machine's. */
  platform?: Platform;
}

export function scratchState(): StageState {
  return {
    layers: [],
    config: { architecture: hostArchitecture(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } },
    history: [],
    args: new Map(),
    cmdSetHere: false,
    cacheKey: 'scratch',
  };
}

/** Variables visible to word expansion at this step: ENV wins over ARG, as in Docker. */
export function expansionEnv(state: StageState): Map<string, string> {
  const env = new Map(state.args);
  for (const [key, value] of envToMap(state.config.config?.Env)) env.set(key, value);
  return env;
}

/** The environment of a RUN: the image's Env plus the build's ARG values. */
export function runEnv(state: StageState): string[] {
  const env = expansionEnv(state);
  return [...env].map(([k, v]) => `${k}=${v}`);
}
