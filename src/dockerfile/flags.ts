/**
 * Instruction flags (`--name=value`, `--name` for booleans), validated the way
 * BuildKit does: unknown flags, missing values, duplicates and bad booleans
 * are errors. Only `strings` flags (like --mount) may repeat.
 */
import { LocalSyntaxError } from './errors.js';
import { closestMatch } from './suggest.js';

type FlagType = 'bool' | 'string' | 'strings';

export interface ParsedFlags {
  bool(name: string): boolean | undefined;
  string(name: string): string | undefined;
  strings(name: string): string[];
  /** Names of the flags that were given. */
  used: Set<string>;
}

/** Parse `words` (as produced by the parser) against the allowed flag set. */
export function parseFlags(words: readonly string[], allowed: Readonly<Record<string, FlagType>>): ParsedFlags {
  const bools = new Map<string, boolean>();
  const strings = new Map<string, string>();
  const lists = new Map<string, string[]>();
  const used = new Set<string>();
  for (const word of words) {
    if (word === '--') break;
    if (!word.startsWith('--')) throw new LocalSyntaxError(`arg should start with -- : ${word}`);
    const body = word.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const type = allowed[name];
    if (!type) {
      const names = Object.keys(allowed);
      const guess = closestMatch(name, names, true);
      const hint = guess ? `did you mean --${guess}?` : names.length ? `allowed flags: ${names.map((n) => '--' + n).join(', ')}` : 'this instruction takes no flags';
      throw new LocalSyntaxError(`unknown flag: ${name}${guess ? ` (did you mean ${guess}?)` : ''}`, hint);
    }
    if (used.has(name) && type !== 'strings') throw new LocalSyntaxError(`duplicate flag specified: ${name}`);
    used.add(name);
    if (type === 'bool') {
      if (value === '') throw new LocalSyntaxError(`missing a value on flag: ${name}`);
      const normalized = value?.toLowerCase();
      if (normalized === undefined || normalized === 'true') bools.set(name, true);
      else if (normalized === 'false') bools.set(name, false);
      else throw new LocalSyntaxError(`expecting boolean value for flag ${name}, not: ${value}`);
      continue;
    }
    if (value === undefined) throw new LocalSyntaxError(`missing a value on flag: ${name}`, `write --${name}=<value>`);
    if (type === 'string') strings.set(name, value);
    else lists.set(name, [...(lists.get(name) ?? []), value]);
  }
  return {
    bool: (name) => bools.get(name),
    string: (name) => strings.get(name),
    strings: (name) => lists.get(name) ?? [],
    used,
  };
}
