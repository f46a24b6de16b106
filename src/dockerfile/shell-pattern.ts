/**
 * Shell glob patterns as used by ${VAR#pattern}, ${VAR%pattern} and
 * ${VAR/pattern/replacement}: `*` is any run of characters, `?` one character,
 * `\` quotes the next one. Everything else, including brackets, is literal.
 */
import { LocalSyntaxError } from './errors.js';

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|\/-]/;

function literal(ch: string): string {
  return REGEX_SPECIAL.test(ch) ? '\\' + ch : ch;
}

/** Translate a shell pattern into a regular expression. */
export function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let source = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    // Like Go's regexp `.`, a wildcard does not cross a newline.
    if (ch === '*') { source += greedy ? '[^\\n]*' : '[^\\n]*?'; continue; }
    if (ch === '?') { source += '[^\\n]'; continue; }
    if (ch === '\\') {
      const next = chars[i + 1];
      // `\}` only protects a brace of the surrounding ${...}.
      if (next === '}') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new LocalSyntaxError(`invalid escape '\\${next ?? ''}' in pattern ${JSON.stringify(pattern)}`);
      }
      source += literal(next);
      i++;
      continue;
    }
    source += literal(ch);
  }
  return new RegExp(source, 'u');
}

/** Reverse a pattern but keep each `\x` escape pair in order. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const tokens: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\' && i + 1 < chars.length) {
      tokens.push('\\' + chars[i + 1]);
      i++;
    } else {
      tokens.push(chars[i]!);
    }
  }
  return tokens.reverse().join('');
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

/** ${VAR#pattern} (shortest) and ${VAR##pattern} (longest). */
export function removePrefix(value: string, pattern: string, greedy: boolean): string {
  const match = shellPatternToRegex(pattern, greedy, true).exec(value);
  return match ? value.slice(match[0].length) : value;
}

/** ${VAR%pattern} and ${VAR%%pattern}: a prefix removal on the reversed strings. */
export function removeSuffix(value: string, pattern: string, greedy: boolean): string {
  return reverse(removePrefix(reverse(value), reversePattern(pattern), greedy));
}

/** ${VAR/pattern/replacement} and ${VAR//pattern/replacement}. */
export function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  const regex = shellPatternToRegex(pattern, true, false);
  if (!all) {
    const match = regex.exec(value);
    return match ? value.slice(0, match.index) + replacement + value.slice(match.index + match[0].length) : value;
  }
  // Go semantics: an empty match right after the previous match is skipped.
  const sticky = new RegExp(regex.source, 'gu');
  let out = '';
  let copied = 0;
  let previousEnd = -1;
  let searchFrom = 0;
  while (searchFrom <= value.length) {
    sticky.lastIndex = searchFrom;
    const match = sticky.exec(value);
    if (!match) break;
    const end = match.index + match[0].length;
    if (match[0].length === 0 && match.index === previousEnd) {
      searchFrom = match.index + (value.codePointAt(match.index)! > 0xffff ? 2 : 1);
      continue;
    }
    out += value.slice(copied, match.index) + replacement;
    copied = end;
    previousEnd = end;
    searchFrom = match[0].length === 0 ? end + (value.codePointAt(end)! > 0xffff ? 2 : 1) : end;
  }
  return out + value.slice(copied);
}
