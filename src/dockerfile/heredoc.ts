/**
 * Heredoc markers (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) in RUN, COPY and ADD.
 * The bodies themselves are read by the parser from the following lines.
 */
import { ShellLexer } from './shell-lexer.js';

export interface HeredocMarker {
  name: string;
  /** False when any part of the delimiter was quoted. */
  expand: boolean;
  chomp: boolean;
  fileDescriptor: number;
}

const MARKER = /^(\d*)<<(-?)([^<]*)$/;
const NO_ENV = () => undefined;

/** If `word` is a heredoc marker, describe it. */
export function parseHeredocMarker(word: string): HeredocMarker | undefined {
  const match = MARKER.exec(word);
  if (!match || match[3] === '') return undefined;
  const [, fd, dash, rest] = match as unknown as [string, string, string, string];
  // Lex the delimiter with and without quote removal: if the quote counts
  // differ, some part of it was quoted, and then the body is not expanded.
  const lexer = new ShellLexer({ skipUnsetEnv: true });
  let unquoted: string[];
  let raw: string[];
  try {
    unquoted = lexer.processWords(rest, NO_ENV);
    raw = lexer.withOptions({ rawQuotes: true }).processWords(rest, NO_ENV);
  } catch {
    return undefined;
  }
  if (unquoted.length !== 1 || raw.length !== 1) return undefined;
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: unquoted[0]!,
    expand: quotes(unquoted[0]!) === quotes(raw[0]!),
    chomp: dash === '-',
    fileDescriptor: fd === '' ? 0 : Number.parseInt(fd, 10),
  };
}

/** All heredoc markers on a logical line, in order. */
export function heredocMarkersInLine(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = new ShellLexer({ rawQuotes: true, rawEscapes: true }).processWords(line, NO_ENV);
  } catch {
    return [];
  }
  const markers: HeredocMarker[] = [];
  for (const word of words) {
    const marker = parseHeredocMarker(word);
    if (marker) markers.push(marker);
  }
  return markers;
}

/** Remove leading tabs from every line (the <<- form). */
export function chompLeadingTabs(content: string): string {
  return content.replace(/^\t+/gm, '');
}
