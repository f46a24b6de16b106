/**
 * RUN --mount=type=...,key=value. Like BuildKit, parsing only splits the CSV
 * record and normalises keys; values are checked after variable expansion
 * (validateMount, called by expandCommand), because they may contain $VARs.
 */
import type { RunMount } from './commands.js';
import { LocalSyntaxError } from './errors.js';
import { closestMatch } from './suggest.js';

const MOUNT_TYPES = new Set<RunMount['type']>(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const ALIASES: Record<string, string> = { src: 'source', dst: 'target', destination: 'target', ro: 'readonly' };
const ALL_KEYS = ['type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env'];
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
        if (i >= text.length) throw new LocalSyntaxError(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${text}`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new LocalSyntaxError(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${text}`);
    } else {
      while (i < text.length && text[i] !== ',') {
        if (text[i] === '"') throw new LocalSyntaxError(`failed to parse csv mounts: bare " in non-quoted-field: ${text}`);
        field += text[i++];
      }
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/** Parse one --mount value (before expansion). */
export function parseMount(text: string): RunMount {
  let type: RunMount['type'] = 'bind';
  const options: Record<string, string> = {};
  for (const field of splitCsvRecord(text)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro' || key === 'required') options[ALIASES[key] ?? key] = 'true';
      else if (key === 'readwrite' || key === 'rw') options.readonly = 'false';
      else throw new LocalSyntaxError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const value = field.slice(eq + 1);
    if (key === 'type') {
      const normalized = value.toLowerCase() as RunMount['type'];
      if (!MOUNT_TYPES.has(normalized)) {
        const guess = closestMatch(value, MOUNT_TYPES, true);
        throw new LocalSyntaxError(`unsupported mount type "${value}"${guess ? ` (did you mean ${guess}?)` : ''}`, 'use one of bind, cache, tmpfs, secret, ssh');
      }
      type = normalized;
      continue;
    }
    if (key === 'from') {
      const dollar = value.indexOf('$');
      if (dollar >= 0 && dollar !== value.length - 1) {
        throw new LocalSyntaxError("'from' doesn't support variable expansion, define alias stage instead");
      }
    }
    if (key === 'readwrite' || key === 'rw') {
      // Stored inverted so that only `readonly` needs reading; checked after expansion.
      options.readonly = value === '' ? value : `!${value}`;
      continue;
    }
    options[ALIASES[key] ?? key] = value;
  }
  return { type, options };
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function parseBool(key: string, value: string): boolean {
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  throw new LocalSyntaxError(`invalid value for ${key}: ${value}`, `use ${key}=true or ${key}=false`);
}

const RAM_SIZE = /^\d+(\.\d+)?\s*([kKmMgGtTpP]i?[bB]?|[bB])?$/;

/**
 * Check an expanded mount and fill in the defaults Docker applies: readonly
 * is always set afterwards ("true" for bind, secret and ssh; "false" for cache and tmpfs).
 */
export function validateMount(mount: RunMount): RunMount {
  const { type } = mount;
  const options: Record<string, string> = {};
  const unexpected = (key: string) => new LocalSyntaxError(`unexpected key '${key}' for mount type '${type}'`);
  for (const [key, value] of Object.entries(mount.options)) {
    switch (key) {
      case 'from': case 'source': case 'target': case 'id': case 'env':
        options[key] = value;
        break;
      case 'readonly':
        options.readonly = String(value.startsWith('!') ? !parseBool('readwrite', value.slice(1)) : parseBool('readonly', value));
        break;
      case 'required':
        if (type !== 'secret' && type !== 'ssh') throw unexpected(key);
        options.required = String(parseBool(key, value));
        break;
      case 'size':
        if (type !== 'tmpfs') throw unexpected(key);
        if (!RAM_SIZE.test(value)) throw new LocalSyntaxError(`invalid value for size: ${value}`, 'use a size like 64m or 1g');
        options.size = value;
        break;
      case 'sharing':
        if (!SHARING.has(value.toLowerCase())) throw new LocalSyntaxError(`unsupported sharing value "${value}"`, 'use sharing=shared, private or locked');
        options.sharing = value.toLowerCase();
        break;
      case 'mode':
        if (!/^[0-7]+$/.test(value) || Number.parseInt(value, 8) > 0xffffffff) throw new LocalSyntaxError(`invalid value ${value} for mode`);
        options.mode = value;
        break;
      case 'uid':
      case 'gid':
        if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) throw new LocalSyntaxError(`invalid value ${value} for ${key}`);
        options[key] = value;
        break;
      default: {
        const guess = closestMatch(key, ALL_KEYS, true);
        throw new LocalSyntaxError(`unexpected key '${key}' in '${key}=${value}'${guess ? ` (did you mean ${guess}?)` : ''}`);
      }
    }
  }
  if (type !== 'secret' && type !== 'ssh' && type !== 'cache') {
    for (const key of ['mode', 'uid', 'gid']) if (options[key] !== undefined) throw new LocalSyntaxError(`${key} not allowed for "${type}" type mounts`);
  }
  options.readonly ??= String(type !== 'cache' && type !== 'tmpfs');
  if (type === 'secret') {
    if (options.from) throw new LocalSyntaxError('secret mount should not have a from');
    if (options.sharing) throw new LocalSyntaxError('secret mount should not define sharing');
    if (!options.source && !options.target && !options.id) throw new LocalSyntaxError('invalid secret mount. one of source, target required');
    if (options.source && options.id) throw new LocalSyntaxError("both source and id can't be set");
  }
  if (options.sharing && type !== 'cache') throw new LocalSyntaxError(`invalid cache sharing set for ${type} mount`);
  return { type, options };
}
