import { UsageError } from '../errors.js';

/** `stop -t` and `restart -t`: seconds (0 or more); undefined when not given, so each container's --stop-timeout applies. */
export function stopSeconds(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--time must be a number of seconds (0 or more), not "${String(value)}".`);
  return seconds;
}
