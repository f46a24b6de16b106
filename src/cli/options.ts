import { UsageError } from '../errors.js';

/**
 * A repeatable option's values. Repeatable options are declared
 * `array: true` (and the parser is not greedy, so `-t app .` leaves "." a
 * positional); other options given twice keep their last value
 * (keepLastValue).
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

/**
 * A positional that may be `-` (stdin or stdout, as docker takes it): yargs
 * hands a lone "-" over as an empty word, which is given back as "-".
 */
export function dashOrWord(value: unknown): string {
  return value === '' ? '-' : String(value);
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

/**
 * yargs middleware: an option that takes one value and is given twice keeps
 * the last, as docker's flags do (`-w /a -w /b` is /b); yargs would make it
 * an array that the command cannot read. Options declared as arrays (the
 * repeatable ones, and variadic positionals) are left whole.
 */
export function keepLastValue(argv: Record<string, unknown>, parser: { getOptions(): { array: string[] } }): void {
  const arrays = new Set(parser.getOptions().array);
  const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '--' || !Array.isArray(value) || arrays.has(key) || arrays.has(kebab(key))) continue;
    argv[key] = value.at(-1);
  }
}
