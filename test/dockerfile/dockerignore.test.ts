import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtemp, mkdir, writeFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createIgnoreMatcher, readIgnorePatterns, loadIgnoreMatcher, walkContext, DockerignoreError, type IgnoreMatcher,
} from '../../src/dockerfile/index.js';
import { cleanPath } from '../../src/dockerfile/glob.js';

const matcherOf = (text: string) => createIgnoreMatcher(readIgnorePatterns(text));

describe('reading patterns', () => {
  it('skips comments and blanks, trims, cleans and drops a leading /', () => {
    expect(readIgnorePatterns('# c\n\n  /a/b/  \n./c\n!/d/../e\n x/./y//z \n#x\n').map((p) => p.pattern))
      .toEqual(['a/b', 'c', '!e', 'x/y/z']);
  });

  it('cleanPath follows Go path.Clean', () => {
    expect(['', '.', './a', 'a/', 'a//b', '/../a', '../a/..', 'a/b/../..', '/'].map(cleanPath))
      .toEqual(['.', '.', 'a', 'a', 'a/b', '/a', '..', '.', '/']);
  });

  it('rejects a lone ! and malformed patterns', () => {
    expect(() => matcherOf('!\n')).toThrow(DockerignoreError);
    expect(() => matcherOf('ok\n[a-\n')).toThrow(/\.dockerignore:2/);
    expect(() => matcherOf('[]\n')).toThrow(DockerignoreError);
    expect(() => matcherOf('a\\\n')).toThrow(DockerignoreError);
  });
});

describe('matching', () => {
  it('* and ? stay inside one path segment', () => {
    const m = matcherOf('*.log\nsrc/?.tmp\n');
    expect(m('x.log')).toBe(true);
    expect(m('dir/x.log')).toBe(false);
    expect(m('src/a.tmp')).toBe(true);
    expect(m('src/ab.tmp')).toBe(false);
  });

  it('** matches any number of directories', () => {
    const m = matcherOf('**/*.log\nbuild/**\n**/cache\n');
    expect(m('a.log')).toBe(true);
    expect(m('a/b/c.log')).toBe(true);
    expect(m('build/x/y')).toBe(true);
    expect(m('build')).toBe(false);
    expect(m('deep/down/cache/file')).toBe(true);
    expect(matcherOf('**\n')('anything/at/all')).toBe(true);
  });

  it('a matching parent directory ignores everything inside', () => {
    const m = matcherOf('node_modules\n');
    expect(m('node_modules')).toBe(true);
    expect(m('node_modules/x/y.js')).toBe(true);
    expect(m('src/node_modules')).toBe(false);
  });

  it('! exceptions re-include, and the last matching line wins', () => {
    const m = matcherOf('*.md\n!README.md\ndocs\n!docs/keep\n');
    expect(m('a.md')).toBe(true);
    expect(m('README.md')).toBe(false);
    expect(m('docs/x')).toBe(true);
    expect(m('docs/keep')).toBe(false);
    expect(m('docs/keep/inner')).toBe(false);
    expect(matcherOf('!a\na\n')('a')).toBe(true);
  });

  it('character classes and escapes', () => {
    const m = matcherOf('file[0-9].txt\n[^a]b\nlit\\*\n');
    expect(m('file3.txt')).toBe(true);
    expect(m('fileX.txt')).toBe(false);
    expect(m('xb')).toBe(true);
    expect(m('ab')).toBe(false);
    expect(m('lit*')).toBe(true);
    expect(m('litx')).toBe(false);
  });

  it('input paths are cleaned', () => {
    const m = matcherOf('a/b\n');
    expect(m('./a/b')).toBe(true);
    expect(m('a//b/c')).toBe(true);
  });

  it('mayIncludeUnder tells whether an exception could match inside a directory', () => {
    const m = matcherOf('docs\n!docs/api/*.md\nvendor\n');
    expect(m.mayIncludeUnder('docs')).toBe(true);
    expect(m.mayIncludeUnder('docs/api')).toBe(true);
    expect(m.mayIncludeUnder('docs/guide')).toBe(false);
    expect(m.mayIncludeUnder('vendor')).toBe(false);
    expect(matcherOf('*\n!**/keep\n').mayIncludeUnder('any/dir')).toBe(true);
  });
});

describe('files on disk', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-ignore-'));
    const files = ['a.txt', 'b.log', 'src/main.ts', 'src/gen/out.js', 'docs/guide/x.md', 'docs/api/y.md', 'docs/api/z.txt', 'node_modules/m/index.js'];
    for (const f of files) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await writeFile(path.join(dir, f), f);
    }
    await symlink('a.txt', path.join(dir, 'link'));
    await mkdir(path.join(dir, 'build'), { recursive: true });
    await writeFile(path.join(dir, 'build', 'Dockerfile'), 'FROM scratch\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function walk(m: IgnoreMatcher) {
    const out: string[] = [];
    for await (const e of walkContext(dir, m)) out.push(`${e.path}:${e.type}${e.implicit ? ':implicit' : ''}`);
    return out;
  }

  it('walks the context in order, skipping ignored dirs and yielding implicit parents of exceptions', async () => {
    const m = matcherOf('*.log\nnode_modules\ndocs\n!docs/api/*.md\nsrc/gen\nbuild\n');
    expect(await walk(m)).toEqual([
      'a.txt:file',
      'docs:dir:implicit',
      'docs/api:dir:implicit',
      'docs/api/y.md:file',
      'link:symlink',
      'src:dir',
      'src/main.ts:file',
    ]);
  });

  it('never reads inside an ignored directory that no exception reaches', async () => {
    const seen: string[] = [];
    const base = matcherOf('node_modules\n');
    const spy = Object.assign((rel: string) => {
      seen.push(rel);
      return base(rel);
    }, { patterns: base.patterns, mayIncludeUnder: base.mayIncludeUnder });
    await walk(spy as IgnoreMatcher);
    expect(seen).toContain('node_modules');
    expect(seen.some((p) => p.startsWith('node_modules/'))).toBe(false);
  });

  it('loadIgnoreMatcher: <Dockerfile>.dockerignore wins over .dockerignore; none ignores nothing', async () => {
    expect((await loadIgnoreMatcher(dir, path.join(dir, 'Dockerfile')))('b.log')).toBe(false);
    await writeFile(path.join(dir, '.dockerignore'), '*.log\n');
    const plain = await loadIgnoreMatcher(dir, path.join(dir, 'build', 'Dockerfile'));
    expect(plain('b.log')).toBe(true);
    expect(plain.source).toBe(path.join(dir, '.dockerignore'));
    await writeFile(path.join(dir, 'build', 'Dockerfile.dockerignore'), 'a.txt\n');
    const specific = await loadIgnoreMatcher(dir, path.join(dir, 'build', 'Dockerfile'));
    expect(specific('a.txt')).toBe(true);
    expect(specific('b.log')).toBe(false);
    expect((await loadIgnoreMatcher(dir, path.relative(process.cwd(), path.join(dir, 'build', 'Dockerfile'))))('a.txt')).toBe(true);
  });
});
