/** Go's time.ParseDuration, returning nanoseconds (HEALTHCHECK flags use Go durations). */
import { LocalSyntaxError } from './errors.js';

const UNIT_NANOS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3,
  '\u03bcs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

export function parseGoDuration(text: string): number {
  const invalid = () => new LocalSyntaxError(`time: invalid duration ${JSON.stringify(text)}`, 'use a number with a unit, e.g. 30s, 1m30s or 500ms');
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  const part = /^(\d*)(?:\.(\d*))?([^\d.]+)/u;
  while (rest !== '') {
    const match = part.exec(rest);
    if (!match || (match[1] === '' && (match[2] ?? '') === '')) throw invalid();
    const unit = UNIT_NANOS[match[3]!];
    if (unit === undefined) {
      throw new LocalSyntaxError(`time: unknown unit ${JSON.stringify(match[3])} in duration ${JSON.stringify(text)}`, 'valid units are ns, us, ms, s, m and h');
    }
    const value = Number(`${match[1] || '0'}.${match[2] || '0'}`);
    total += value * unit;
    rest = rest.slice(match[0].length);
  }
  return Math.round(sign * total);
}
