/**
 * Limits on what an image config may hold, far above any real image: a
 * config within the size limit (JSON_BLOB_LIMITS) can still hold a million
 * Env entries, which make the OCI runtime spin, or arrays nested a hundred
 * thousand deep, which overflow the stack of anything that walks them. Every
 * config is checked when it enters the store (pull, load, build) and when
 * the store reads it.
 */
import { RiboError } from '../errors.js';

export const CONFIG_LIMITS = {
  envEntries: 10_000,
  /** The kernel's limit on one environment string (MAX_ARG_STRLEN); a longer one cannot reach a process anyway. */
  envEntryBytes: 128 * 1024,
  labels: 10_000,
  labelBytes: 1024 * 1024,
  /** Nesting of arrays and objects; real configs nest about 4 deep. */
  depth: 100,
} as const;

/** An image config beyond CONFIG_LIMITS. */
export class ConfigLimitError extends RiboError {
  constructor(where: string, what: string, limit: string) {
    super(`${where}: the image config ${what}; ribo accepts at most ${limit} (see docs/unsupported.md). The image is refused: make its config smaller (fewer or shorter Env entries and labels). An image already tagged can still be removed with \`ribo rmi\`.`);
  }
}

/** The deepest nesting of arrays and objects in `value`, walked without recursion; stops counting past `limit`. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return deepest;
}

/**
 * Refuses a parsed image config beyond CONFIG_LIMITS; `where` names the
 * image (or file) for the message.
 */
export function assertConfigLimits(config: unknown, where: string): void {
  if (nestingDepth(config, CONFIG_LIMITS.depth) > CONFIG_LIMITS.depth) {
    throw new ConfigLimitError(where, `nests arrays or objects more than ${CONFIG_LIMITS.depth} levels deep`, `${CONFIG_LIMITS.depth} levels`);
  }
  const runConfig = (config as { config?: { Env?: unknown; Labels?: unknown } } | null)?.config;
  const env = runConfig?.Env;
  if (Array.isArray(env)) {
    if (env.length > CONFIG_LIMITS.envEntries) throw new ConfigLimitError(where, `has ${env.length} Env entries`, `${CONFIG_LIMITS.envEntries} entries`);
    const long = env.find((entry) => typeof entry === 'string' && Buffer.byteLength(entry) > CONFIG_LIMITS.envEntryBytes) as string | undefined;
    if (long !== undefined) throw new ConfigLimitError(where, `has an Env entry "${long.slice(0, 40)}…" of ${Buffer.byteLength(long)} bytes`, `${CONFIG_LIMITS.envEntryBytes} bytes`);
  }
  const labels = runConfig?.Labels;
  if (labels && typeof labels === 'object') {
    const entries = Object.entries(labels);
    if (entries.length > CONFIG_LIMITS.labels) throw new ConfigLimitError(where, `has ${entries.length} Labels`, `${CONFIG_LIMITS.labels} labels`);
    for (const [key, value] of entries) {
      const size = Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 0);
      if (size > CONFIG_LIMITS.labelBytes) throw new ConfigLimitError(where, `has a label "${key.slice(0, 40)}" of ${size} bytes`, `${CONFIG_LIMITS.labelBytes} bytes`);
    }
  }
}
