/**
 * The functions and the printing rules of ribo's Go templates (template.ts):
 * values print as Go's fmt %v does (strings bare, lists `[a b]`, maps
 * `map[k:v]` with sorted keys, a missing value `<no value>`).
 */
import { UsageError } from '../errors.js';

export function goPrint(value: unknown): string {
  if (value === undefined || value === null) return '<no value>';
  return goValue(value);
}

function goValue(value: unknown): string {
  if (value === undefined || value === null) return '<nil>';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(goValue).join(' ')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `map[${Object.keys(record).sort().map((key) => `${key}:${goValue(record[key])}`).join(' ')}]`;
  }
  return String(value);
}

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
export function isTruthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : goPrint(value);
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new UsageError(`--format: ${name} compares two numbers or two strings, not ${goPrint(a)} and ${goPrint(b)}.`);
}

/** Go's fmt verbs that scripts use: %s %v %d %q %%, with an optional width. */
function printf(format: string, args: unknown[]): string {
  let next = 0;
  return format.replace(/%(-?)(\d*)([svdqf%])/g, (_match, left: string, width: string, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[next++];
    const shown = verb === 'q' ? JSON.stringify(text(arg)) : verb === 'd' ? String(Math.trunc(Number(arg))) : text(arg);
    const size = Number(width || 0);
    return left ? shown.padEnd(size) : shown.padStart(size);
  });
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  json: (value) => JSON.stringify(value ?? null),
  upper: (value) => text(value).toUpperCase(),
  lower: (value) => text(value).toLowerCase(),
  title: (value) => text(value).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (list, separator) => (Array.isArray(list) ? list.map(goValue).join(text(separator)) : text(list)),
  split: (value, separator) => text(value).split(text(separator)),
  pad: (value, before, after) => `${' '.repeat(Number(before) || 0)}${text(value)}${' '.repeat(Number(after) || 0)}`,
  truncate: (value, length) => [...text(value)].slice(0, Number(length)).join(''),
  len: (value) => (typeof value === 'string' || Array.isArray(value) ? value.length : value !== null && typeof value === 'object' ? Object.keys(value).length : 0),
  index: (value, ...keys) => keys.reduce((current, key) => (current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[String(key)] : undefined), value),
  print: (...args) => args.map(text).join(''),
  println: (...args) => `${args.map(text).join(' ')}\n`,
  printf: (format, ...args) => printf(text(format), args),
  eq: (a, ...others) => others.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: (a, b) => compare('lt', a, b) < 0,
  le: (a, b) => compare('le', a, b) <= 0,
  gt: (a, b) => compare('gt', a, b) > 0,
  ge: (a, b) => compare('ge', a, b) >= 0,
  not: (value) => !isTruthy(value),
  and: (...args) => args.find((arg) => !isTruthy(arg)) ?? args[args.length - 1],
  or: (...args) => args.find((arg) => isTruthy(arg)) ?? args[args.length - 1],
};

export function isTemplateFunction(name: string): boolean {
  return Object.hasOwn(FUNCTIONS, name);
}

export function callTemplateFunction(name: string, args: unknown[]): unknown {
  return FUNCTIONS[name]!(...args);
}
