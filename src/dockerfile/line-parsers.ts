/**
 * From one logical line (continuations already joined) to a raw node:
 * keyword, flag words and argument tokens, with per-instruction rules for how
 * the argument text is split (JSON array, whitespace, key=value words...).
 */
import { LocalSyntaxError } from './errors.js';
import { goTrimLeftSpace, goTrimSpace, isGoSpace, splitWhitespace } from './go-text.js';
import type { RawArg, RawNode } from './node.js';

interface ParsedArgs {
  args: RawArg[];
  json: boolean;
}

type ArgParser = (rest: string, escapeToken: string) => ParsedArgs;

const NOT_STRING_ARRAY = 'JSON array in Dockerfile must contain only strings';

/** Parse `rest` as a JSON array of strings; undefined when it is not JSON at all. */
function parseJsonArray(rest: string): string[] | undefined {
  const text = goTrimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  for (const item of value) {
    if (typeof item !== 'string') {
      throw new LocalSyntaxError(NOT_STRING_ARRAY, 'every element of an exec-form array must be a "quoted string"');
    }
  }
  return value as string[];
}

const none: ParsedArgs = { args: [], json: false };

/** CMD, ENTRYPOINT, RUN, SHELL: a JSON array, or the whole text as one shell command. */
function parseMaybeJson(rest: string): ParsedArgs {
  if (rest === '') return none;
  const list = parseJsonArray(rest);
  if (list) return { args: list, json: true };
  return { args: [rest], json: false };
}

/** ADD, COPY, VOLUME: a JSON array, or whitespace-separated words (quotes not honoured). */
function parseMaybeJsonToList(rest: string): ParsedArgs {
  const list = parseJsonArray(rest);
  if (list) return { args: list, json: true };
  return parseWhitespaceDelimited(rest);
}

function parseWhitespaceDelimited(rest: string): ParsedArgs {
  if (rest === '') return none;
  return { args: splitWhitespace(rest), json: false };
}

function parseWholeString(rest: string): ParsedArgs {
  return rest === '' ? none : { args: [rest], json: false };
}

/**
 * Quote-aware word split used by ENV, LABEL and ARG. Quotes and escape
 * characters stay in the words; only unquoted whitespace separates.
 */
export function splitQuotedWords(rest: string, escapeToken: string): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let word = '';
  let started = false;
  let keepEmpty = false;
  let quote = '';
  const flush = () => {
    if (keepEmpty || word.length > 0) words.push(word);
    word = '';
    started = false;
    keepEmpty = false;
  };
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (!started) {
      if (isGoSpace(ch)) continue;
      started = true;
    }
    if (quote === '') {
      if (isGoSpace(ch)) {
        flush();
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        keepEmpty = true;
      }
      if (ch === escapeToken) {
        if (i + 1 === chars.length) continue; // a trailing escape is dropped
        word += ch;
        i++;
        word += chars[i]!;
        continue;
      }
      word += ch;
      continue;
    }
    // inside quotes
    if (ch === quote) {
      quote = '';
      word += ch;
      continue;
    }
    if (ch === escapeToken && quote !== "'") {
      if (i + 1 === chars.length) {
        quote = '';
        continue;
      }
      word += ch;
      i++;
      word += chars[i]!;
      continue;
    }
    word += ch;
  }
  if (started) flush();
  return words;
}

function keyValueArgs(rest: string, escapeToken: string, keyword: string): ParsedArgs {
  const words = splitQuotedWords(rest, escapeToken);
  if (words.length === 0) return none;
  if (!words[0]!.includes('=')) {
    // Legacy "KEY name value": one pair, value is the rest of the line verbatim.
    const parts = splitWhitespace(rest, 2);
    if (parts.length < 2) {
      throw new LocalSyntaxError(`${keyword} must have two arguments`, `write "${keyword} ${parts[0]}=<value>"`);
    }
    return { args: [parts[0]!, parts[1]!, ''], json: false };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) {
      throw new LocalSyntaxError(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`,
        'quote values that contain spaces, e.g. KEY="two words"');
    }
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args, json: false };
}

function parseArgWords(rest: string, escapeToken: string): ParsedArgs {
  return { args: splitQuotedWords(rest, escapeToken), json: false };
}

/** HEALTHCHECK: the type word (CMD, NONE...) then the CMD rule for the rest. */
function parseHealthcheck(rest: string): ParsedArgs {
  let sep = 0;
  while (sep < rest.length && !isGoSpace(rest[sep]!)) sep++;
  if (sep === 0) return none;
  let next = sep;
  while (next < rest.length && isGoSpace(rest[next]!)) next++;
  const command = parseMaybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
}

const ARG_PARSERS: Record<string, ArgParser> = {
  add: parseMaybeJsonToList,
  arg: parseArgWords,
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: (rest, esc) => keyValueArgs(rest, esc, 'ENV'),
  expose: parseWhitespaceDelimited,
  from: parseWhitespaceDelimited,
  healthcheck: parseHealthcheck,
  label: (rest, esc) => keyValueArgs(rest, esc, 'LABEL'),
  maintainer: parseWholeString,
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseWholeString,
  user: parseWholeString,
  volume: parseMaybeJsonToList,
  workdir: parseWholeString,
};

/** Every instruction keyword the parser knows (lower case). */
export const INSTRUCTION_KEYWORDS: readonly string[] = [...Object.keys(ARG_PARSERS), 'onbuild'].sort();

/**
 * Leading `--flag` words. Quotes are removed and the escape character escapes
 * inside flags. Returns the flags and the remaining text.
 */
export function extractFlags(text: string, escapeToken: string): { flags: string[]; rest: string } {
  const chars = Array.from(text);
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < chars.length && isGoSpace(chars[pos]!)) pos++;
    if (pos === chars.length) return { flags, rest: '' };
    if (chars[pos] !== '-' || chars[pos + 1] !== '-') return { flags, rest: chars.slice(pos).join('') };
    let word = '';
    let keepEmpty = false;
    let quote = '';
    for (; pos < chars.length; pos++) {
      const ch = chars[pos]!;
      if (quote === '') {
        if (isGoSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          keepEmpty = true;
          continue;
        }
      } else if (ch === quote) {
        quote = '';
        continue;
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) {
          quote = '';
          continue;
        }
        pos++;
        word += chars[pos]!;
        continue;
      }
      word += ch;
    }
    if (word === '--') return { flags, rest: chars.slice(pos).join('') };
    if (keepEmpty || word.length > 0) flags.push(word);
  }
}

/**
 * Parse one logical line into a node (without heredoc bodies).
 * Unknown keywords are kept (with one empty argument, as BuildKit does);
 * they are rejected later, when instructions are interpreted.
 */
export function parseLogicalLine(line: string, escapeToken: string, startLine: number, endLine: number): RawNode {
  const [keywordAsWritten = '', afterKeyword] = splitWhitespace(goTrimSpace(line), 2);
  const { flags, rest } = afterKeyword === undefined ? { flags: [], rest: '' } : extractFlags(afterKeyword, escapeToken);
  const keyword = keywordAsWritten.toLowerCase();
  const text = goTrimSpace(rest);
  const node: RawNode = {
    keyword, keywordAsWritten, flags, args: [], json: false, original: line, heredocs: [], startLine, endLine,
  };
  if (keyword === 'onbuild') {
    if (text !== '') node.args = [parseLogicalLine(text, escapeToken, startLine, endLine)];
    return node;
  }
  const parser = ARG_PARSERS[keyword];
  if (!parser) {
    node.args = [''];
    return node;
  }
  const parsed = parser(text, escapeToken);
  node.args = parsed.args;
  node.json = parsed.json;
  return node;
}
