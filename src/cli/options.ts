/**
 * A repeatable option's values. Options are not declared as yargs arrays
 * because an array option swallows the positionals after it
 * (`-t app .` would make "." a tag); yargs collects repeats by itself.
 */
export function asList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
