/**
 * BuildKit's own parser and lexer test data, read from the shared checkout at
 * test time (see ../shared/conformance/buildkit-parser/FORMAT.md).
 */
import { describe, it, expect } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRaw } from '../../src/dockerfile/parser.js';
import { dumpNodes } from '../../src/dockerfile/node.js';
import { ShellLexer } from '../../src/dockerfile/shell-lexer.js';

const DATA = path.resolve(process.cwd(), '..', 'shared', 'conformance', 'buildkit-parser');

function caseNames(dir: string): string[] {
  return readdirSync(path.join(DATA, dir)).filter((name) => existsSync(path.join(DATA, dir, name, 'Dockerfile'))).sort();
}

describe('conformance data is present', () => {
  it('finds the shared test data', () => {
    expect(existsSync(path.join(DATA, 'FORMAT.md'))).toBe(true);
    expect(caseNames('testfiles')).toHaveLength(33);
    expect(caseNames('testfiles-negative')).toHaveLength(4);
  });
});

describe('BuildKit parser: positive cases', () => {
  for (const name of caseNames('testfiles')) {
    it(name, () => {
      const dir = path.join(DATA, 'testfiles', name);
      const parsed = parseRaw(readFileSync(path.join(dir, 'Dockerfile'), 'utf8'), 'Dockerfile');
      const expected = readFileSync(path.join(dir, 'result'), 'utf8');
      expect(dumpNodes(parsed.nodes) + '\n').toBe(expected);
    });
  }
});

describe('BuildKit parser: negative cases', () => {
  for (const name of caseNames('testfiles-negative')) {
    it(name, () => {
      const text = readFileSync(path.join(DATA, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
      expect(() => parseRaw(text, 'Dockerfile')).toThrow();
    });
  }
});

describe('BuildKit parser: line numbers', () => {
  it('reports the physical lines of each instruction', () => {
    const text = readFileSync(path.join(DATA, 'testfile-line', 'Dockerfile'), 'utf8');
    const { nodes } = parseRaw(text, 'Dockerfile');
    expect(nodes.map((n) => [n.startLine, n.endLine])).toEqual([[5, 5], [11, 12], [17, 31]]);
    expect([nodes[0]!.startLine, nodes[nodes.length - 1]!.endLine]).toEqual([5, 31]);
  });
});

describe('BuildKit lexer: envVarTest (processWord)', () => {
  const env = { PWD: '/home', SHELL: 'bash', KOREAN: '한국어', NULL: '' };
  const lexer = new ShellLexer();
  const lines = readFileSync(path.join(DATA, 'shell', 'envVarTest'), 'utf8').split('\n');
  let count = 0;
  lines.forEach((line, i) => {
    if (line.startsWith('#') || line.trim() === '') return;
    const fields = line.split('|');
    if (fields.length !== 3) throw new Error(`envVarTest:${i + 1}: expected 3 fields`);
    const [tag, input, expected] = fields.map((f) => f.trim()) as [string, string, string];
    if (tag === 'W') return; // Windows-only: case-insensitive lookup
    count++;
    it(`line ${i + 1}: ${input}`, () => {
      if (expected === 'error') expect(() => lexer.processWord(input, env)).toThrow();
      else expect(lexer.processWord(input, env)).toBe(expected);
    });
  });
  it('covers all non-Windows lines', () => expect(count).toBe(228));
});

describe('BuildKit lexer: wordsTest (processWords)', () => {
  const lexer = new ShellLexer();
  const lines = readFileSync(path.join(DATA, 'shell', 'wordsTest'), 'utf8').split('\n');
  const env: Record<string, string> = {};
  lines.forEach((line, i) => {
    if (line.startsWith('#') || line.trim() === '') return;
    if (line.startsWith('ENV ')) {
      const assignment = line.slice(4).replace(/^ +/, '');
      const eq = assignment.indexOf('=');
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
      return;
    }
    const fields = line.split('|');
    if (fields.length !== 2) throw new Error(`wordsTest:${i + 1}: expected 2 fields`);
    const input = fields[0]!.trim();
    const expected = fields[1]!.replace(/^ +/, '');
    const snapshot = { ...env };
    it(`line ${i + 1}: ${input}`, () => {
      if (expected === 'error') expect(() => lexer.processWords(input, snapshot)).toThrow();
      else expect(lexer.processWords(input, snapshot)).toEqual(expected.split(','));
    });
  });
});
