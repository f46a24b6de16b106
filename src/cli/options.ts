import { UsageError } from '../errors.js';

/**
 * A repeatable option's values. Options are not declared as yargs arrays
 * because an array option swallows the positionals after it
 * (`-t app .` would make "." a tag); yargs collects repeats by itself.
 */
export function asList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

const COMPRESSION_CHOICES = ['gzip', 'zstd', 'none'] as const;

/** yargs declaration of --compression, shared by the commands that write layers. */
export const compressionOption = {
  type: 'string',
  choices: COMPRESSION_CHOICES,
  default: 'gzip',
  describe: 'Compression of the layers written: gzip, zstd or none',
} as const;

/** The --compression value as the layer code takes it. */
export function asCompression(value: unknown): (typeof COMPRESSION_CHOICES)[number] {
  const text = value === undefined ? 'gzip' : String(value);
  const found = COMPRESSION_CHOICES.find((choice) => choice === text);
  if (!found) throw new UsageError(`--compression ${text}: choose gzip (the default), zstd or none.`);
  return found;
}

/** Options whose names start with "no-" but take a value (docker's), which yargs would read as a negated boolean. */
const NO_VALUE_OPTIONS = new Set(['--no-cache-filter']);

/** `--no-cache-filter STAGE` as `--no-cache-filter=STAGE`, the one spelling yargs does not take for `--cache-filter=false`. */
export function joinNoOptionValues(args: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [...joined, ...args.slice(i)];
    if (NO_VALUE_OPTIONS.has(arg) && i + 1 < args.length) joined.push(`${arg}=${args[++i]}`);
    else joined.push(arg);
  }
  return joined;
}
