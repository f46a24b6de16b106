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
