/** RUN --mount=type=...,key=value parsing (the value is a CSV record). */
import type { RunMount } from './commands.js';
import { LocalSyntaxError } from './errors.js';

const MOUNT_TYPES = new Set<RunMount['type']>(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const ALIASES: Record<string, string> = { src: 'source', dst: 'target', destination: 'target', ro: 'readonly' };
const BOOLEAN_KEYS = new Set(['readonly', 'ro', 'readwrite', 'rw', 'required']);
const VALUE_KEYS = new Set(['type', 'from', 'source', 'src', 'target', 'dst', 'destination', 'id', 'sharing', 'mode', 'uid', 'gid', 'size', 'env']);
const SHARING = new Set(['shared', 'private', 'locked']);

/** Split a CSV record (double quotes group, "" is a literal quote). */
export function splitCsvRecord(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new LocalSyntaxError(`extraneous or missing " in quoted-field: ${text}`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new LocalSyntaxError(`extraneous or missing " in quoted-field: ${text}`);
    } else {
      while (i < text.length && text[i] !== ',') {
        if (text[i] === '"') throw new LocalSyntaxError(`bare " in non-quoted-field: ${text}`);
        field += text[i++];
      }
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function parseBool(key: string, value: string): boolean {
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  throw new LocalSyntaxError(`invalid value for ${key}: ${value}`, `use ${key}=true or ${key}=false`);
}

export function parseMount(text: string): RunMount {
  let type: RunMount['type'] = 'bind';
  const options: Record<string, string> = {};
  for (const field of splitCsvRecord(text)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (BOOLEAN_KEYS.has(key)) {
      const flag = value === undefined ? true : parseBool(key, value);
      if (key === 'readwrite' || key === 'rw') options.readonly = String(!flag);
      else options[ALIASES[key] ?? key] = String(flag);
      continue;
    }
    if (!VALUE_KEYS.has(key)) {
      throw new LocalSyntaxError(`unexpected key '${key}' in '${field}'`, 'see "RUN --mount" in the Dockerfile reference for the keys of each mount type');
    }
    if (value === undefined) throw new LocalSyntaxError(`invalid field '${field}' must be a key=value pair`);
    if (key === 'type') {
      if (!MOUNT_TYPES.has(value as RunMount['type'])) {
        throw new LocalSyntaxError(`unsupported mount type "${value}"`, 'use one of bind, cache, tmpfs, secret, ssh');
      }
      type = value as RunMount['type'];
      continue;
    }
    if (key === 'sharing' && !SHARING.has(value)) {
      throw new LocalSyntaxError(`unsupported sharing value "${value}"`, 'use sharing=shared, private or locked');
    }
    options[ALIASES[key] ?? key] = value;
  }
  if ((type === 'bind' || type === 'cache' || type === 'tmpfs') && !options.target) {
    throw new LocalSyntaxError(`mount type ${type} requires a target`, `add target=<path in the container>, e.g. --mount=type=${type},target=/cache`);
  }
  if (type === 'secret' && !options.id && !options.target && !options.env) {
    throw new LocalSyntaxError('secret mount requires an id or a target', 'add id=<secret id>');
  }
  return { type, options };
}
