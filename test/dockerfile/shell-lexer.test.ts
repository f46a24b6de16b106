import { describe, it, expect } from '@jest/globals';
import { ShellLexer } from '../../src/dockerfile/index.js';

const env = { V: 'hello/world.tar.gz', EMPTY: '', SP: 'a  b', PATH: '/usr/bin:/bin' };
const lexer = new ShellLexer();
const word = (s: string) => lexer.processWord(s, env);
const words = (s: string) => lexer.processWords(s, env);

describe('simple references', () => {
  it('$V and ${V}', () => {
    expect(word('$V')).toBe('hello/world.tar.gz');
    expect(word('x${V}y')).toBe('xhello/world.tar.gzy');
    expect(word('$UNSET-')).toBe('-');
    expect(word('$')).toBe('$');
  });

  it('accepts Map, record and function environments', () => {
    expect(lexer.processWord('$A', new Map([['A', 'm']]))).toBe('m');
    expect(lexer.processWord('$A', (n: string) => (n === 'A' ? 'f' : undefined))).toBe('f');
    expect(lexer.processWord('$toString', {})).toBe('');
  });
});

describe('default, alternative and error forms', () => {
  it('${V:-w} and ${V-w} differ for empty values', () => {
    expect(word('${EMPTY:-d}')).toBe('d');
    expect(word('${EMPTY-d}')).toBe('');
    expect(word('${UNSET-d}')).toBe('d');
    expect(word('${V:-d}')).toBe('hello/world.tar.gz');
  });

  it('${V:+w} and ${V+w}', () => {
    expect(word('${EMPTY:+alt}')).toBe('');
    expect(word('${EMPTY+alt}')).toBe('alt');
    expect(word('${UNSET+alt}')).toBe('');
    expect(word('${V:+alt}')).toBe('alt');
  });

  it('${V:?m} and ${V?m}', () => {
    expect(() => word('${UNSET?is required}')).toThrow(/UNSET: is required/);
    expect(() => word('${EMPTY:?}')).toThrow(/EMPTY: is not allowed to be empty/);
    expect(word('${EMPTY?}')).toBe('');
    expect(() => word('${UNSET:?}')).toThrow(/is not allowed to be unset/);
  });

  it('nests expansions in the word', () => {
    expect(word('${UNSET:-${V%%/*}}')).toBe('hello');
  });
});

describe('pattern operators', () => {
  it('${V#p} and ${V##p} remove the shortest / longest prefix', () => {
    expect(word('${V#*/}')).toBe('world.tar.gz');
    expect(word('${V#*.}')).toBe('tar.gz');
    expect(word('${V##*.}')).toBe('gz');
    expect(word('${V#nomatch}')).toBe('hello/world.tar.gz');
  });

  it('${V%p} and ${V%%p} remove the shortest / longest suffix', () => {
    expect(word('${V%.*}')).toBe('hello/world.tar');
    expect(word('${V%%.*}')).toBe('hello/world');
    expect(word('${PATH%:*}')).toBe('/usr/bin');
  });

  it('? matches one character and \\ quotes wildcards', () => {
    expect(new ShellLexer().processWord('${A#?}', { A: 'abc' })).toBe('bc');
    expect(new ShellLexer().processWord('${A#\\*}', { A: '*x' })).toBe('x');
  });

  it('${V/p/r} and ${V//p/r}', () => {
    expect(word('${PATH/bin/sbin}')).toBe('/usr/sbin:/bin');
    expect(word('${PATH//bin/sbin}')).toBe('/usr/sbin:/sbin');
    expect(word('${V/*./X}')).toBe('Xgz');
    expect(word('${UNSET/a/b}')).toBe('');
  });

  it('rejects colon with pattern operators and bad syntax', () => {
    expect(() => word('${V:#x}')).toThrow(/unsupported modifier/);
    expect(() => word('${V:=x}')).toThrow(/unsupported modifier/);
    expect(() => word('${V/x')).toThrow();
    expect(() => word('${}')).toThrow(/bad substitution/);
    expect(() => word('${V')).toThrow();
  });
});

describe('quotes and escapes', () => {
  it('single quotes are literal, double quotes expand', () => {
    expect(word("'$V'")).toBe('$V');
    expect(word('"$EMPTY x"')).toBe(' x');
    expect(word('"a\\"b"')).toBe('a"b');
    expect(word('a\\ b')).toBe('a b');
  });

  it('the backtick escape token', () => {
    const tick = new ShellLexer({ escapeToken: '`' });
    expect(tick.processWord('a`$V', env)).toBe('a$V');
    expect(tick.processWord('c:\\dir', env)).toBe('c:\\dir');
  });

  it('rawQuotes, rawEscapes and skipUnsetEnv keep text as written', () => {
    expect(new ShellLexer({ rawQuotes: true }).processWord('"a" \'b\'', env)).toBe('"a" \'b\'');
    expect(new ShellLexer({ rawEscapes: true }).processWord('a\\$b', env)).toBe('a\\$b');
    expect(new ShellLexer({ skipUnsetEnv: true }).processWord('$NOPE ${NOPE:-x} $V', env)).toBe('$NOPE ${NOPE:-x} hello/world.tar.gz');
  });
});

describe('word splitting', () => {
  it('splits unquoted expansions but not quoted ones', () => {
    expect(words('x $SP "$SP" \'$SP\'')).toEqual(['x', 'a', 'b', 'a  b', '$SP']);
    expect(words('')).toEqual([]);
    expect(words('"" a')).toEqual(['a']);
  });
});

describe('matched variables', () => {
  it('reports which names were found and which were unset', () => {
    const result = lexer.process('$V ${NOPE:-x} $EMPTY', env);
    expect([...result.matched].sort()).toEqual(['EMPTY', 'V']);
    expect([...result.unmatched]).toEqual(['NOPE']);
  });
});
