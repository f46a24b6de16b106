/**
 * Variable expansion with the rules Docker applies to Dockerfile words: a small
 * subset of POSIX shell (quotes, escapes, $VAR and ${VAR...} forms), no command
 * substitution and no globbing.
 */
import { LocalSyntaxError } from './errors.js';
import { isGoSpace } from './go-text.js';
import { removePrefix, removeSuffix, replacePattern } from './shell-pattern.js';

/** Looks a variable up; undefined means "not set" (different from set-but-empty). */
export type EnvLookup = (name: string) => string | undefined;

export type EnvSource = ReadonlyMap<string, string> | Readonly<Record<string, string>> | EnvLookup;

export function toLookup(env: EnvSource): EnvLookup {
  if (typeof env === 'function') return env;
  if (env instanceof Map) return (name) => env.get(name);
  const record = env as Readonly<Record<string, string>>;
  return (name) => (Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined);
}

export interface LexerOptions {
  /** `\` (default) or backtick, from the escape parser directive. */
  escapeToken?: string;
  /** Keep quote characters in the output. */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written. */
  skipUnsetEnv?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
}

export interface ExpansionResult {
  /** The whole input expanded as one word. */
  result: string;
  /** The input expanded and split into words. */
  words: string[];
  /** Names that were looked up and found. */
  matched: Set<string>;
  /** Names that were looked up and not set. */
  unmatched: Set<string>;
}

const EOF = '';

/** Collects output into words: unquoted whitespace separates, quoted text never does. */
class WordCollector {
  readonly words: string[] = [];
  private word = '';
  private inWord = false;

  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRaw(ch);
    }
  }

  addRaw(text: string): void {
    this.word += text;
    this.inWord = true;
  }

  addSplitting(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

/** One expansion run over one input string. */
class Expansion {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(input: string, private readonly lookup: EnvLookup, private readonly opts: Required<LexerOptions>) {
    this.chars = Array.from(input);
    this.rawEscapes = opts.rawEscapes;
  }

  private peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }

  private next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  run(): { result: string; words: string[] } {
    return this.processUntil(EOF, this.opts.rawEscapes);
  }

  /** Process up to (and consuming) `stop`, or to the end when stop is EOF. */
  private processUntil(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new WordCollector();
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === '$') {
          const value = this.processDollar();
          result += value;
          words.addSplitting(value);
          continue;
        }
        if (!this.opts.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const value = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += value;
          words.addRaw(value);
          continue;
        }
        let plain = this.next();
        if (plain === this.opts.escapeToken) {
          if (this.rawEscapes) {
            words.addRaw(plain);
            result += plain;
          }
          plain = this.next();
          if (plain === EOF) break; // a lone escape at the end is dropped
          words.addRaw(plain);
        } else {
          words.addChar(plain);
        }
        result += plain;
      }
      if (stop !== EOF) throw new LocalSyntaxError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Nothing is special between single quotes, not even the escape character.
    const open = this.next();
    let out = this.opts.rawQuotes ? open : '';
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new LocalSyntaxError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return this.opts.rawQuotes ? out + ch : out;
      out += ch;
    }
  }

  private processDoubleQuote(): string {
    // Only $, the escape character and " are special; escapes work only before those.
    const open = this.next();
    let out = this.opts.rawQuotes ? open : '';
    for (;;) {
      const ch = this.peek();
      if (ch === EOF) throw new LocalSyntaxError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.next();
        return this.opts.rawQuotes ? out + ch : out;
      }
      if (ch === '$') {
        out += this.processDollar();
        continue;
      }
      let plain = this.next();
      if (plain === this.opts.escapeToken) {
        const following = this.peek();
        if (following === EOF) continue; // reported as unterminated on the next turn
        if (following === '"' || following === '$' || following === this.opts.escapeToken) {
          if (this.rawEscapes) out += plain;
          plain = this.next();
        }
      }
      out += plain;
    }
  }

  private getEnv(name: string): string | undefined {
    const value = this.lookup(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }

  /** A name: letters, digits and _; or all digits; or one special parameter. */
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && /^\p{Nd}$/u.test(ch)) {
        while (/^\p{Nd}$/u.test(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && '@*#?-$!0'.includes(ch)) return this.next();
      if (!/^[\p{L}\p{Nd}_]$/u.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    this.next(); // the $
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }
    this.next(); // the {
    const first = this.peek();
    if (first === EOF) throw new LocalSyntaxError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LocalSyntaxError('syntax error: bad substitution');

    const name = this.processName();
    let op = this.next();
    let opText = op;
    if (op === '}') {
      const value = this.getEnv(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + '}';
      return value ?? '';
    }
    if (op === '/') return this.processReplace(name);

    let colon = false;
    if (op === ':') {
      colon = true;
      op = this.next();
      opText += op;
    }
    if (!'+-?#%'.includes(op) || op === EOF) {
      if (!colon) throw new LocalSyntaxError(`unsupported modifier (${opText}) in substitution`);
      // Read the rest so the error names the whole modifier, as the shell would.
      this.processUntilBrace();
      throw new LocalSyntaxError(`unsupported modifier (${opText}) in substitution`);
    }
    const isPattern = op === '#' || op === '%';
    if (colon && isPattern) throw new LocalSyntaxError(`unsupported modifier (${opText}) in substitution`);

    let word = this.processUntilBrace(isPattern);
    const value = this.getEnv(name);
    if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + opText + word + '}';
    const unsetOrNull = value === undefined || (colon && value === '');
    switch (op) {
      case '-':
        return unsetOrNull ? word : value!;
      case '+':
        return unsetOrNull ? '' : word;
      case '?':
        if (value === undefined) throw new LocalSyntaxError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (colon && value === '') throw new LocalSyntaxError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      default: {
        const greedy = word.startsWith(op);
        if (greedy) word = word.slice(1);
        const current = value ?? '';
        return op === '#' ? removePrefix(current, word, greedy) : removeSuffix(current, word, greedy);
      }
    }
  }

  private processUntilBrace(rawEscapes = false): string {
    try {
      return this.processUntil('}', rawEscapes).result;
    } catch (err) {
      if (this.peek() === EOF) throw new LocalSyntaxError("syntax error: missing '}'");
      throw err;
    }
  }

  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processUntil('/', true).result;
    } catch (err) {
      if (this.peek() === EOF) throw new LocalSyntaxError("syntax error: missing '/' in ${}");
      throw err;
    }
    const replacement = this.processUntilBrace(true);
    const value = this.getEnv(name);
    if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + '/' + pattern + '/' + replacement + '}';
    return replacePattern(value ?? '', pattern, replacement, all);
  }
}

/** Docker's word expander. One instance per escape token and option set. */
export class ShellLexer {
  private readonly opts: Required<LexerOptions>;

  constructor(options: LexerOptions = {}) {
    const escapeToken = options.escapeToken ?? '\\';
    if (escapeToken !== '\\' && escapeToken !== '`') throw new Error(`invalid escape token ${JSON.stringify(escapeToken)}`);
    this.opts = {
      escapeToken,
      rawQuotes: options.rawQuotes ?? false,
      rawEscapes: options.rawEscapes ?? false,
      skipUnsetEnv: options.skipUnsetEnv ?? false,
      skipProcessQuotes: options.skipProcessQuotes ?? false,
    };
  }

  withOptions(options: LexerOptions): ShellLexer {
    return new ShellLexer({ ...this.opts, ...options });
  }

  get escapeToken(): string {
    return this.opts.escapeToken;
  }

  /** Expand and report which variables were used; throws LocalSyntaxError on bad input. */
  process(input: string, env: EnvSource): ExpansionResult {
    const expansion = new Expansion(input, toLookup(env), this.opts);
    try {
      const { result, words } = expansion.run();
      return { result, words, matched: expansion.matched, unmatched: expansion.unmatched };
    } catch (err) {
      if (err instanceof LocalSyntaxError) throw new LocalSyntaxError(`failed to process ${JSON.stringify(input)}: ${err.message}`, err.hint);
      throw err;
    }
  }

  /** Expand `input` as a single word (quotes removed, no splitting). */
  processWord(input: string, env: EnvSource): string {
    return this.process(input, env).result;
  }

  /** Expand `input` and split it into words the way the shell would. */
  processWords(input: string, env: EnvSource): string[] {
    return this.process(input, env).words;
  }
}
