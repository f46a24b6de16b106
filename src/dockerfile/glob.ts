/**
 * Go filepath.Match pattern syntax, compiled to regular expressions the way
 * Docker's .dockerignore matcher does: `*` and `?` never cross `/`, `**`
 * crosses any number of directories, `[...]` classes, `\` escapes.
 */
import { LocalSyntaxError } from './errors.js';

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|\/-]/;

function escapeRegex(ch: string): string {
  return REGEX_SPECIAL.test(ch) ? '\\' + ch : ch;
}

const bad = (pattern: string) => new LocalSyntaxError(`syntax error in pattern ${JSON.stringify(pattern)}`,
  'check for an unclosed "[", a range like "[a-]" or a trailing backslash');

/** Parse a `[...]` class starting after the `[`; returns its regex and the index after `]`. */
function parseClass(chars: string[], start: number, pattern: string): { regex: string; end: number } {
  let i = start;
  let negated = false;
  if (chars[i] === '^') {
    negated = true;
    i++;
  }
  const readChar = (): string => {
    const ch = chars[i];
    if (ch === undefined || ch === '-' || ch === ']') throw bad(pattern);
    i++;
    if (ch !== '\\') return ch;
    const escaped = chars[i];
    if (escaped === undefined) throw bad(pattern);
    i++;
    return escaped;
  };
  let body = '';
  let ranges = 0;
  for (;;) {
    if (chars[i] === ']' && ranges > 0) return { regex: `[${negated ? '^' : ''}${body}]`, end: i + 1 };
    const lo = readChar();
    if (i >= chars.length) throw bad(pattern);
    if (chars[i] === '-') {
      i++;
      const hi = readChar();
      if (i >= chars.length) throw bad(pattern);
      if (hi < lo) throw bad(pattern);
      body += `${escapeRegex(lo)}-${escapeRegex(hi)}`;
    } else {
      body += escapeRegex(lo);
    }
    ranges++;
  }
}

/**
 * Regex source (unanchored) for a cleaned, slash-separated pattern. With
 * `doubleStar`, `**` matches across directories (dockerignore semantics).
 */
export function globToRegexSource(pattern: string, doubleStar = true): string {
  const chars = Array.from(pattern);
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (doubleStar && chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        out += i + 1 >= chars.length ? '.*' : '(?:.*/)?';
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      const cls = parseClass(chars, i + 1, pattern);
      out += cls.regex;
      i = cls.end - 1;
    } else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) throw bad(pattern);
      out += escapeRegex(next);
      i++;
    } else {
      out += escapeRegex(ch);
    }
  }
  return out;
}

/** Go's path.Clean for slash-separated paths. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}
