/**
 * The Go text/template subset that `--format` takes (docker and podman format
 * their output with Go templates; see docs/cli.md, "Templates"). Parsed into
 * a small tree once, then rendered per item. Supported: text, `{{.A.B}}`,
 * `{{.}}`, variables (`$`, `$x := …`, `range $i, $v := …`), string, number
 * and boolean literals, pipes (`{{.Name | upper}}`), parentheses,
 * `if`/`else if`/`else`, `range` (with `else`), `with`, `end`, comments and
 * the `{{-`/`-}}` trim markers; functions as docker's CLI has them (json,
 * upper, lower, title, join, split, pad, truncate) plus Go's (len, index,
 * print, printf, println, eq, ne, lt, le, gt, ge, and, or, not).
 * @ctrl/golang-template was considered; it has no function table (so no
 * json), no variables and no pipes.
 */
import { UsageError } from '../errors.js';
import { callTemplateFunction, isTemplateFunction, goPrint, isTruthy } from './template-functions.js';

/** A --format template that does not parse. */
export class TemplateError extends UsageError {
  constructor(template: string, detail: string) {
    super(`--format ${JSON.stringify(template)}: ${detail}. ribo's templates follow Go's text/template (see "Templates" in docs/cli.md).`);
  }
}

type Operand =
  | { kind: 'field'; base: 'dot' | { variable: string }; path: string[] }
  | { kind: 'literal'; value: unknown }
  | { kind: 'call'; name: string; args: Operand[] }
  | { kind: 'pipe'; pipeline: Pipeline };
interface Pipeline {
  declare?: string[];
  commands: Operand[][];
}
interface Block {
  kind: 'if' | 'with' | 'range';
  pipeline: Pipeline;
  then: Node[];
  otherwise: Node[];
}
type Node = { kind: 'text'; text: string } | { kind: 'print'; pipeline: Pipeline } | Block;

export interface Template {
  render(data: unknown): string;
}

interface Token {
  text?: string;
  action?: string;
}

/** Splits into text and actions, applying the trim markers. */
function tokenize(source: string, fail: (detail: string) => never): Token[] {
  const tokens: Token[] = [];
  let rest = source;
  let trimNext = false;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    let text = open < 0 ? rest : rest.slice(0, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      tokens.push({ text });
      break;
    }
    let inner = rest.slice(open + 2);
    if (/^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    tokens.push({ text });
    const close = findClose(inner);
    if (close < 0) fail('an action is not closed with "}}"');
    let action = inner.slice(0, close);
    if (/\s-$/.test(action)) {
      action = action.slice(0, -1);
      trimNext = true;
    }
    tokens.push({ action: action.trim() });
    rest = inner.slice(close + 2);
  }
  return tokens.filter((t) => t.action !== undefined || t.text !== '');
}

/** The end of an action, skipping "}}" inside quoted strings. */
function findClose(inner: string): number {
  let quote: string | undefined;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i]!;
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === '`') quote = ch;
    else if (ch === '}' && inner[i + 1] === '}') return i;
  }
  return -1;
}

const WORD = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||:=|,|[^\s()|,]+)/y;

function lexAction(action: string, fail: (detail: string) => never): string[] {
  const words: string[] = [];
  WORD.lastIndex = 0;
  while (WORD.lastIndex < action.length) {
    const start = WORD.lastIndex;
    const match = WORD.exec(action);
    if (!match) {
      if (action.slice(start).trim() === '') break;
      fail(`cannot read "${action.slice(start).trim()}"`);
    }
    words.push(match[1]!);
  }
  return words;
}

class ActionParser {
  private at = 0;
  constructor(private readonly words: string[], private readonly fail: (detail: string) => never) {}

  done(): boolean {
    return this.at >= this.words.length;
  }

  pipeline(allowDeclare: boolean): Pipeline {
    const pipeline: Pipeline = { commands: [] };
    const assign = this.words.indexOf(':=', this.at);
    if (allowDeclare && assign > 0) {
      pipeline.declare = this.words.slice(this.at, assign).filter((w) => w !== ',');
      if (!pipeline.declare.every((w) => /^\$\w*$/.test(w))) this.fail(`only variables can be declared, not "${pipeline.declare.join(' ')}"`);
      this.at = assign + 1;
    }
    for (;;) {
      const command: Operand[] = [];
      while (!this.done() && this.words[this.at] !== '|' && this.words[this.at] !== ')') command.push(this.operand());
      if (command.length === 0) this.fail('an empty command in a pipeline');
      pipeline.commands.push(command);
      if (this.words[this.at] !== '|') return pipeline;
      this.at++;
    }
  }

  private operand(): Operand {
    const word = this.words[this.at++]!;
    if (word === '(') {
      const inner = this.pipeline(false);
      if (this.words[this.at++] !== ')') this.fail('a "(" is not closed');
      return this.fieldsAfter({ kind: 'pipe', pipeline: inner });
    }
    if (word.startsWith('"')) return { kind: 'literal', value: JSON.parse(word) as string };
    if (word.startsWith('`')) return { kind: 'literal', value: word.slice(1, -1) };
    if (/^-?\d+(\.\d+)?$/.test(word)) return { kind: 'literal', value: Number(word) };
    if (word === 'true' || word === 'false') return { kind: 'literal', value: word === 'true' };
    if (word === 'nil') return { kind: 'literal', value: null };
    if (word === '.') return { kind: 'field', base: 'dot', path: [] };
    if (/^(\.[A-Za-z_]\w*)+$/.test(word)) return { kind: 'field', base: 'dot', path: word.slice(1).split('.') };
    const variable = /^(\$\w*)((\.[A-Za-z_]\w*)*)$/.exec(word);
    if (variable) return { kind: 'field', base: { variable: variable[1]! }, path: variable[2] ? variable[2].slice(1).split('.') : [] };
    if (isTemplateFunction(word)) return { kind: 'call', name: word, args: [] };
    return this.fail(`"${word}" is not a field (.Name), a variable ($x), a literal or a function ribo knows`);
  }

  /** `(pipeline).Field` */
  private fieldsAfter(operand: Operand): Operand {
    const next = this.words[this.at];
    if (next && /^(\.[A-Za-z_]\w*)+$/.test(next)) {
      this.at++;
      return { kind: 'call', name: 'index', args: [operand, ...next.slice(1).split('.').map((key) => ({ kind: 'literal', value: key }) as Operand)] };
    }
    return operand;
  }
}

/** Parses a template; TemplateError names what is wrong. */
export function compileTemplate(source: string): Template {
  const fail = (detail: string): never => {
    throw new TemplateError(source, detail);
  };
  const tokens = tokenize(source, fail);
  let position = 0;
  // Returns the nodes up to an {{else}} or {{end}} (which it reports) or the end of the template.
  const parseList = (): { nodes: Node[]; stop?: string } => {
    const nodes: Node[] = [];
    while (position < tokens.length) {
      const token = tokens[position++]!;
      if (token.action === undefined) {
        nodes.push({ kind: 'text', text: token.text! });
        continue;
      }
      if (token.action.startsWith('/*')) continue;
      const words = lexAction(token.action, fail);
      const keyword = words[0];
      if (keyword === 'end' || keyword === 'else') return { nodes, stop: token.action };
      if (keyword === 'if' || keyword === 'with' || keyword === 'range') {
        nodes.push(parseBlock(keyword, words.slice(1)));
        continue;
      }
      if (keyword === 'template' || keyword === 'define' || keyword === 'block' || keyword === 'break' || keyword === 'continue') {
        fail(`{{${keyword}}} is not supported`);
      }
      const parser = new ActionParser(words, fail);
      const pipeline = parser.pipeline(true);
      if (!parser.done()) fail(`unexpected "${words.join(' ')}"`);
      nodes.push({ kind: 'print', pipeline });
    }
    return { nodes };
  };
  const parseBlock = (keyword: 'if' | 'with' | 'range', words: string[]): Node => {
    const parser = new ActionParser(words, fail);
    if (parser.done()) fail(`{{${keyword}}} needs a value`);
    const pipeline = parser.pipeline(keyword !== 'if');
    if (!parser.done()) fail(`unexpected "${words.join(' ')}" after {{${keyword}}}`);
    const then = parseList();
    let otherwise: Node[] = [];
    if (then.stop === undefined) fail(`{{${keyword}}} has no {{end}}`);
    if (then.stop!.startsWith('else')) {
      const rest = then.stop!.slice(4).trim();
      if (rest.startsWith('if ') && keyword === 'if') otherwise = [parseBlock('if', lexAction(rest.slice(3), fail))];
      else {
        if (rest !== '') fail(`unexpected "{{${then.stop}}}"`);
        const tail = parseList();
        if (tail.stop !== 'end') fail(`{{${keyword}}}…{{else}} has no {{end}}`);
        otherwise = tail.nodes;
      }
    }
    return { kind: keyword, pipeline, then: then.nodes, otherwise };
  };
  const top = parseList();
  if (top.stop !== undefined) fail(`{{${top.stop}}} has no {{if}}, {{range}} or {{with}} to close`);
  return { render: (data) => renderNodes(top.nodes, data, new Map([['$', data]])) };
}

type Scope = Map<string, unknown>;

function renderNodes(nodes: Node[], dot: unknown, scope: Scope): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'print') {
      const value = evalPipeline(node.pipeline, dot, scope);
      if (!node.pipeline.declare) out += goPrint(value);
    } else if (node.kind === 'if' || node.kind === 'with') {
      const inner = new Map(scope);
      const value = evalPipeline(node.pipeline, dot, inner);
      if (isTruthy(value)) out += renderNodes(node.then, node.kind === 'with' ? value : dot, inner);
      else out += renderNodes(node.otherwise, dot, inner);
    } else if (node.kind === 'range') out += renderRange(node, dot, scope);
  }
  return out;
}

function renderRange(node: Block, dot: unknown, scope: Scope): string {
  const value = evalPipeline({ commands: node.pipeline.commands }, dot, scope);
  const entries: Array<[unknown, unknown]> = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : value !== null && typeof value === 'object'
      ? Object.keys(value).sort().map((key) => [key, (value as Record<string, unknown>)[key]])
      : typeof value === 'number'
        ? Array.from({ length: value }, (_, i) => [i, i])
        : [];
  if (entries.length === 0) return renderNodes(node.otherwise, dot, scope);
  const names = node.pipeline.declare ?? [];
  let out = '';
  for (const [key, item] of entries) {
    const inner = new Map(scope);
    if (names.length === 1) inner.set(names[0]!, item);
    if (names.length === 2) {
      inner.set(names[0]!, key);
      inner.set(names[1]!, item);
    }
    out += renderNodes(node.then, item, inner);
  }
  return out;
}

function evalPipeline(pipeline: Pipeline, dot: unknown, scope: Scope): unknown {
  let value: unknown;
  pipeline.commands.forEach((command, i) => {
    value = evalCommand(command, dot, scope, i === 0 ? undefined : { value });
  });
  if (pipeline.declare?.length === 1) scope.set(pipeline.declare[0]!, value);
  return value;
}

function evalCommand(command: Operand[], dot: unknown, scope: Scope, piped: { value: unknown } | undefined): unknown {
  const [head, ...rest] = command;
  const args = (operands: Operand[]): unknown[] => [...operands.map((o) => evalOperand(o, dot, scope)), ...(piped ? [piped.value] : [])];
  if (head!.kind === 'call') return callTemplateFunction(head!.name, args(rest));
  if (rest.length > 0 || piped) throw new UsageError(`--format: only a function can take arguments or a piped value, not ${describe(head!)}.`);
  return evalOperand(head!, dot, scope);
}

function evalOperand(operand: Operand, dot: unknown, scope: Scope): unknown {
  switch (operand.kind) {
    case 'literal':
      return operand.value;
    case 'call':
      return callTemplateFunction(operand.name, operand.args.map((o) => evalOperand(o, dot, scope)));
    case 'pipe':
      return evalPipeline(operand.pipeline, dot, scope);
    case 'field': {
      if (operand.base !== 'dot' && !scope.has(operand.base.variable)) throw new UsageError(`--format: the variable ${operand.base.variable} is not defined.`);
      let current = operand.base === 'dot' ? dot : scope.get(operand.base.variable);
      for (const key of operand.path) current = current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
      return current;
    }
  }
}

function describe(operand: Operand): string {
  return operand.kind === 'field' ? `.${operand.path.join('.')}` : operand.kind === 'literal' ? JSON.stringify(operand.value) : 'a value';
}

/** Renders `source` for one value (inspect, volume inspect, version). */
export function renderTemplate(source: string, value: unknown): string {
  return compileTemplate(source).render(value);
}
