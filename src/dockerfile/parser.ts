/**
 * Dockerfile text to raw instruction nodes, following BuildKit's parser:
 * parser directives, comments, line continuations, heredoc bodies.
 */
import type { Warning } from './commands.js';
import { DirectiveReader, type Directives } from './directives.js';
import { DockerfileSyntaxError, LocalSyntaxError } from './errors.js';
import { goTrimLeftSpace } from './go-text.js';
import { chompLeadingTabs, heredocMarkersInLine } from './heredoc.js';
import { parseLogicalLine } from './line-parsers.js';
import type { RawNode } from './node.js';

export interface RawParse {
  file: string;
  directives: Directives;
  /** The escape character in force (from the escape directive). */
  escapeToken: string;
  nodes: RawNode[];
  /** Parser-level warnings, e.g. empty continuation lines. */
  warnings: Warning[];
  /** Physical lines without their line terminators, for error messages. */
  lines: string[];
}

const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add']);

/** Split into physical lines, each keeping its "\n" (heredoc bodies need it). */
function physicalLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

function isComment(line: string): boolean {
  return goTrimLeftSpace(trimNewline(line)).startsWith('#');
}

function isBlank(line: string): boolean {
  return goTrimLeftSpace(trimNewline(line)) === '';
}

/** Removes a trailing continuation escape; `continues` is false when there is none. */
function stripContinuation(line: string, escapeToken: string): { text: string; continues: boolean } {
  const esc = escapeToken === '`' ? '`' : '\\\\';
  const pattern = new RegExp(`(^|[^${esc}])${esc}[ \\t]*$`);
  const match = pattern.exec(line);
  if (!match) return { text: line, continues: false };
  return { text: line.slice(0, match.index) + match[1], continues: true };
}

function canContainHeredoc(node: RawNode): boolean {
  const target = node.keyword === 'onbuild' && typeof node.args[0] === 'object' ? node.args[0] : node;
  return HEREDOC_KEYWORDS.has(target.keyword) && !target.json;
}

/** Parse a Dockerfile's text. `file` is only used in messages and locations. */
export function parseRaw(text: string, file: string): RawParse {
  const lines = physicalLines(text);
  if (lines.length > 0 && lines[0]!.startsWith('\ufeff')) lines[0] = lines[0]!.slice(1);
  const plainLines = lines.map(trimNewline);
  const directiveReader = new DirectiveReader();
  const nodes: RawNode[] = [];
  const warnings: Warning[] = [];

  const fail = (err: unknown, line: number, endLine = line): never => {
    if (err instanceof LocalSyntaxError) {
      throw new DockerfileSyntaxError(err.message, { file, line, endLine, column: 1, sourceLine: plainLines[line - 1] }, err.hint);
    }
    throw err;
  };

  /** Directive handling and comment removal, as applied to every scanned line. */
  const processLine = (raw: string, lineNumber: number, stripLeft: boolean): string => {
    let line = trimNewline(raw);
    if (stripLeft) line = goTrimLeftSpace(line);
    try {
      directiveReader.offer(line, lineNumber);
    } catch (err) {
      fail(err, lineNumber);
    }
    return line.startsWith('#') ? '' : line;
  };

  let index = 0; // next physical line to read (0-based)
  while (index < lines.length) {
    const startLine = index + 1;
    const first = processLine(lines[index]!, startLine, true);
    index++;
    let { text: logical, continues } = stripContinuation(first, directiveReader.directives.escapeToken);
    if (!continues && logical === '') continue;

    let sawEmptyContinuation = false;
    while (continues && index < lines.length) {
      const raw = lines[index]!;
      const line = processLine(raw, index + 1, false);
      index++;
      if (isComment(raw)) continue;
      if (isBlank(line)) {
        sawEmptyContinuation = true;
        continue;
      }
      const part = stripContinuation(line, directiveReader.directives.escapeToken);
      logical += part.text;
      continues = part.continues;
    }
    const escapeToken = directiveReader.directives.escapeToken;

    let node: RawNode;
    try {
      node = parseLogicalLine(logical, escapeToken, startLine, index);
    } catch (err) {
      return fail(err, startLine, index);
    }
    if (sawEmptyContinuation) {
      warnings.push({
        rule: 'NoEmptyContinuation',
        message: `Empty continuation line found in: ${logical}`,
        location: { file, startLine: index, endLine: index },
      });
    }

    if (canContainHeredoc(node) && logical.includes('<<')) {
      const target = node.keyword === 'onbuild' ? (node.args[0] as RawNode) : node;
      for (const marker of heredocMarkersInLine(logical)) {
        let content = '';
        let terminated = false;
        while (index < lines.length) {
          const raw = lines[index]!;
          index++;
          let candidate = trimNewline(raw);
          if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === marker.name) {
            terminated = true;
            break;
          }
          content += raw;
        }
        if (!terminated) {
          fail(new LocalSyntaxError(`unterminated heredoc ${marker.name}`, `end the heredoc with a line containing only "${marker.name}"`), startLine, index);
        }
        node.heredocs.push({
          name: marker.name,
          content: marker.chomp ? chompLeadingTabs(content) : content,
          expand: marker.expand,
          chomp: marker.chomp,
          fileDescriptor: marker.fileDescriptor,
        });
      }
      if (target !== node) target.heredocs = node.heredocs;
    }
    node.endLine = index;
    if (typeof node.args[0] === 'object') node.args[0].endLine = index;
    nodes.push(node);
  }

  if (nodes.length === 0) {
    throw new DockerfileSyntaxError('file with no instructions', { file, line: Math.max(1, lines.length) },
      'a Dockerfile needs at least a FROM instruction');
  }
  return { file, directives: directiveReader.directives, escapeToken: directiveReader.directives.escapeToken, nodes, warnings, lines: plainLines };
}
