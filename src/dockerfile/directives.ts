/**
 * Parser directives: `# key=value` comment lines at the very top of a
 * Dockerfile. Only syntax, escape and check are recognised; the first line
 * that is anything else ends the directive section.
 */
import { LocalSyntaxError } from './errors.js';

export interface Directives {
  /** The escape character, `\` unless `# escape=` says otherwise. */
  escapeToken: string;
  syntax?: string;
  /** The raw value of `# check=`. */
  check?: string;
  /** 1-based line of each directive seen. */
  lines: Record<string, number>;
}

const DIRECTIVE_LINE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const KNOWN = new Set(['syntax', 'escape', 'check']);

export class DirectiveReader {
  private done = false;
  readonly directives: Directives = { escapeToken: '\\', lines: {} };

  /**
   * Offer a line (newline trimmed, leading whitespace trimmed) from the top of
   * the file. Returns true if it was a directive. Throws on repeated or invalid ones.
   */
  offer(line: string, lineNumber: number): boolean {
    if (this.done) return false;
    const match = DIRECTIVE_LINE.exec(line);
    const key = match?.[1]?.toLowerCase();
    if (!match || !key || !KNOWN.has(key)) {
      this.done = true;
      return false;
    }
    if (key in this.directives.lines) throw new LocalSyntaxError(`only one ${key} parser directive can be used`);
    this.directives.lines[key] = lineNumber;
    const value = match[2]!;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') {
        throw new LocalSyntaxError(`invalid escape token '${value}' does not match \` or \\`, 'use "# escape=\\" or "# escape=`"');
      }
      this.directives.escapeToken = value;
    } else if (key === 'syntax') {
      this.directives.syntax = value;
    } else {
      this.directives.check = value;
    }
    return true;
  }
}

export interface CheckConfig {
  /** Rule names to skip, lower-cased; "all" skips everything. */
  skip: Set<string>;
  /** Turn check warnings into a build error. */
  error: boolean;
}

/** Go's strconv.ParseBool spellings. */
const GO_BOOLEANS = new Map<string, boolean>([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((k) => [k, true] as [string, boolean]),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((k) => [k, false] as [string, boolean]),
]);

/** Parse `# check=skip=A,B;error=true`. */
export function parseCheckDirective(value: string | undefined): CheckConfig {
  const config: CheckConfig = { skip: new Set(), error: false };
  if (!value) return config;
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new LocalSyntaxError(`invalid check option ${JSON.stringify(part)}`, 'use "# check=skip=<rules>;error=<true|false>"');
    const key = part.slice(0, eq).trim();
    const rawValue = part.slice(eq + 1).trim();
    if (key === 'skip') {
      for (const rule of rawValue.split(',')) if (rule.trim()) config.skip.add(rule.trim().toLowerCase());
    } else if (key === 'error') {
      const flag = GO_BOOLEANS.get(rawValue);
      if (flag === undefined) throw new LocalSyntaxError(`failed to parse check option ${JSON.stringify(part)}: not a boolean`);
      config.error = flag;
    } else {
      throw new LocalSyntaxError(`invalid check option ${JSON.stringify(key)}`, 'use "# check=skip=<rules>;error=<true|false>"');
    }
  }
  return config;
}
