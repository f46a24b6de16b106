/**
 * The raw syntax tree, shaped like BuildKit's parser output so the upstream
 * conformance dumps can be compared: one node per instruction, with its
 * arguments as a flat list of raw (unexpanded, still quoted) tokens.
 */
import { goQuote } from './go-text.js';
import type { Heredoc } from './commands.js';

export interface RawNode {
  /** Lower-cased keyword, e.g. "run". */
  keyword: string;
  /** The keyword as written, e.g. "Run". */
  keywordAsWritten: string;
  /** Flag words (quotes and escapes already removed), e.g. "--from=build". */
  flags: string[];
  /** Argument tokens. For ONBUILD the single argument is the nested instruction. */
  args: RawArg[];
  /** True when the arguments came from a JSON array (exec form). */
  json: boolean;
  /** The logical line: continuations joined, trimmed. */
  original: string;
  heredocs: Heredoc[];
  startLine: number;
  endLine: number;
}

export type RawArg = string | RawNode;

function dumpNode(node: RawNode): string {
  let out = node.keyword;
  if (node.flags.length > 0) out += ' [' + node.flags.map(goQuote).join(' ') + ']';
  for (const arg of node.args) out += ' ' + (typeof arg === 'string' ? goQuote(arg) : '(' + dumpNode(arg) + ')');
  return out;
}

/** BuildKit's debugging dump of a whole file: one parenthesised line per instruction. */
export function dumpNodes(nodes: readonly RawNode[]): string {
  return nodes.map((n) => '(' + dumpNode(n) + ')').join('\n');
}

/** Plain string arguments, with a nested ONBUILD instruction flattened (keyword first). */
export function stringArgs(node: RawNode): string[] {
  const out: string[] = [];
  for (const arg of node.args) {
    if (typeof arg === 'string') out.push(arg);
    else out.push(arg.keyword, ...stringArgs(arg));
  }
  return out;
}
