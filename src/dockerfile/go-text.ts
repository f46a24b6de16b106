/**
 * Small text helpers that reproduce Go's standard-library behaviour, because
 * BuildKit's parser output (and its tests) depend on Go's exact definitions.
 */

/** Go's unicode.IsSpace. */
export function isGoSpace(ch: string): boolean {
  switch (ch) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case '\u0085': case '\u00a0':
      return true;
  }
  return ch.length > 0 && ch.charCodeAt(0) > 0xff && /^[\p{Zs}\p{Zl}\p{Zp}]$/u.test(ch);
}

/** Go's strings.TrimSpace (JS trim() also strips U+FEFF, Go does not). */
export function goTrimSpace(s: string): string {
  return goTrimLeftSpace(goTrimRightSpace(s));
}

export function goTrimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isGoSpace(s[i]!)) i++;
  return s.slice(i);
}

export function goTrimRightSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isGoSpace(s[end - 1]!)) end--;
  return s.slice(0, end);
}

/** The separator BuildKit uses between a keyword and its arguments, and between plain words. */
export const WHITESPACE_RUN = /[\t\v\f\r ]+/;

/** Splits like Go's regexp.Split(s, n) with the WHITESPACE_RUN pattern. */
export function splitWhitespace(s: string, limit = -1): string[] {
  const out: string[] = [];
  let rest = s;
  while (limit < 0 || out.length < limit - 1) {
    const m = WHITESPACE_RUN.exec(rest);
    if (!m) break;
    out.push(rest.slice(0, m.index));
    rest = rest.slice(m.index + m[0].length);
  }
  out.push(rest);
  return out;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Go's strconv.Quote: a double-quoted string with Go escape sequences. */
export function goQuote(s: string): string {
  let out = '"';
  for (const raw of s) {
    // A lone surrogate cannot come from valid UTF-8; Go would see U+FFFD.
    const ch = raw.length === 1 && raw.charCodeAt(0) >= 0xd800 && raw.charCodeAt(0) <= 0xdfff ? '\ufffd' : raw;
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') { out += '\\' + ch; continue; }
    if (ch === ' ' || (cp >= 0x21 && cp < 0x7f)) { out += ch; continue; }
    if (cp >= 0x80 && PRINTABLE.test(ch)) { out += ch; continue; }
    switch (ch) {
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (cp < 0x80) out += '\\x' + hex(cp, 2);
    else if (cp < 0x10000) out += '\\u' + hex(cp, 4);
    else out += '\\U' + hex(cp, 8);
  }
  return out + '"';
}
