/** Helpers for the image config's Env list ("KEY=value" strings, first "=" splits). */

export function envToMap(env: readonly string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq < 0) map.set(entry, '');
    else map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
}

export function mapToEnv(map: ReadonlyMap<string, string>): string[] {
  return [...map].map(([key, value]) => `${key}=${value}`);
}

/** Sets `key` in an Env list, keeping the position of an existing entry as Docker does. */
export function setEnv(env: readonly string[] | undefined, key: string, value: string): string[] {
  const map = envToMap(env);
  map.set(key, value);
  return mapToEnv(map);
}
