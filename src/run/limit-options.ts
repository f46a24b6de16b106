/** `ribo run --ulimit` and `--shm-size`, with docker's spellings and meanings. */
import { UsageError } from '../errors.js';
import { RLIM_INFINITY, ULIMIT_NAMES, type Rlimit } from '../runtime/rlimits.js';
import { parseSize } from './mount-options.js';

/** One limit value: a whole number, or -1 / "unlimited". */
function limitValue(word: string, value: string): number {
  if (word === '-1' || word === 'unlimited') return RLIM_INFINITY;
  if (!/^\d+$/.test(word)) throw new UsageError(`--ulimit ${value}: "${word}" is not a whole number; give NAME=SOFT[:HARD] with numbers (-1 for unlimited), e.g. nofile=1024:4096.`);
  return Number(word);
}

/**
 * `--ulimit NAME=SOFT[:HARD]`, repeatable; a missing HARD is SOFT, and a
 * name given twice keeps its last value (docker's). Sorted by type, so the
 * same flags give the same config.
 */
export function parseUlimits(values: string[]): Rlimit[] {
  const byType = new Map<string, Rlimit>();
  for (const value of values) {
    const match = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(value);
    if (!match) throw new UsageError(`--ulimit ${value}: expected NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:4096.`);
    const type = ULIMIT_NAMES.get(match[1]!);
    if (!type) throw new UsageError(`--ulimit ${value}: unknown limit "${match[1]}"; use one of ${[...ULIMIT_NAMES.keys()].join(', ')}.`);
    const soft = limitValue(match[2]!, value);
    const hard = match[3] === undefined ? soft : limitValue(match[3], value);
    if (soft > hard) throw new UsageError(`--ulimit ${value}: the soft limit is above the hard one; give SOFT <= HARD.`);
    byType.set(type, { type, soft, hard });
  }
  return [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
}

/** docker's /dev/shm size when --shm-size is absent or 0. */
export const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

/** `--shm-size SIZE`: bytes, or a number with b, k, m or g; 0 means docker's default, 64m. */
export function parseShmSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(value, '--shm-size');
  return bytes === 0 ? undefined : bytes;
}
