import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtemp, mkdir, writeFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createIgnoreMatcher, readIgnorePatterns, loadIgnoreMatcher, walkContext, contextFilter, DockerignoreError, type IgnoreMatcher,
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

describe("moby patternmatcher's cases", () => {
  // [pattern, path, ignored]: one pattern, matched against the path or a parent
  // directory (MatchesOrParentMatches), from moby/patternmatcher's documented tests.
  const single: Array<[string, string, boolean]> = [
    ['**', 'file', true], ['**', 'dir/file', true], ['**/', 'file', true], ['**/', 'dir/file', true],
    ['**/**', 'dir/file', true], ['dir/**', 'dir/file', true], ['dir/**', 'dir/dir2/file', true],
    ['**/dir', 'dir', true], ['**/dir', 'dir/file', true], ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/**', 'dir/dir2/dir3/file', true], ['**file', 'file', true], ['**file', 'dir/file', true],
    ['**/file', 'dir/file', true], ['**file', 'dir/dir/file', true], ['**/file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file', true], ['**/file*', 'dir/dir/file.txt', true], ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/file*.txt', 'dir/dir/file.txt', true], ['**/file*.txt*', 'dir/dir/file.txt', true], ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false], ['**/*.txt', 'file.txt', true], ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true], ['a**/*.txt', 'a/dir/file.txt', true], ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false], ['a/*.txt', 'a/file.txt', true], ['a/*.txt**', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false], ['a[b-d]e', 'ace', true], ['a[b-d]e', 'aae', false], ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true], ['.*', 'foo', false], ['abc.def', 'abcdef', false], ['abc.def', 'abc.def', true],
    ['abc.def', 'abcZdef', false], ['abc?def', 'abcZdef', true], ['abc?def', 'abcdef', false],
    ['**/foo/bar', 'foo/bar', true], ['**/foo/bar', 'dir/foo/bar', true], ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false], ['abc/**', 'abc/def', true], ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true], ['**/.foo', 'bar.foo', false], ['a(b)c/def', 'a(b)c/def', true], ['a(b)c/def', 'a(b)c/xyz', false],
    ['a.|)$(}+{bc', 'a.|)$(}+{bc', true], ['dist/*.whl', 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', true],
    ['a\\\\', 'a\\', true], ['a\\*b', 'a*b', true], ['a\\*b', 'ab', false],
    // Quirks of the shortcuts: a final `**` after plain text is a prefix, a leading `**` before plain text a suffix.
    ['abc**', 'abcdef', true], ['**file', 'myfile', true], ['**/file', 'myfile', false],
    // Go filepath.Match: * and ? stop at /, a match on a parent directory counts.
    ['a*', 'ab/c', true], ['a*/b', 'abc/b', true], ['a*/b', 'a/c/b', false], ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false], ['a*b?c*x', 'abxbbxdbxebxczzx', true], ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[^e-g]', 'abc', true], ['ab[^c]', 'abc', false], ['a?b', 'a☺b', true], ['a???b', 'a☺b', false],
    ['[a-ζ]*', 'α', true], ['*[a-ζ]', 'A', false], ['a?b', 'a/b', false], ['a*b', 'a/b', false],
    ['[\\]a]', ']', true], ['[\\-]', '-', true], ['[x\\-]', 'x', true], ['[x\\-]', 'z', false], ['*x', 'xxx', true],
  ];
  it.each(single)('%s on %s: ignored %s', (pattern, file, ignored) => {
    expect(createIgnoreMatcher([pattern])(file)).toBe(ignored);
  });

  it.each(['[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '[', '[^', '[^bc', 'a['])('rejects the malformed pattern %s', (pattern) => {
    expect(() => createIgnoreMatcher([pattern])).toThrow(DockerignoreError);
  });

  const multi: Array<[string[], string, boolean]> = [
    [['**', '!util/docker/web'], 'util/docker/web/foo', false],
    [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
    [['**', '!dist/*.whl'], 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl', false],
    [['!fileutils.go', '*.go'], 'fileutils.go', true],
    [['*.go', '!fileutils.go'], 'fileutils.go', false],
    [['docs', '!docs/README.md'], 'docs/README.md', false],
    [['docs/', '!docs/README.md'], 'docs/README.md', false],
    [['docs/*', '!docs/README.md'], 'docs/README.md', false],
    [['**', '!folder1/file1'], 'folder1/file1', false],
    [['**', '!folder1/file1'], 'folder1', true],
    [['**', '!folder1/file1'], 'folder1/file2', true],
    [['stuff/huge/*', '!stuff/huge/usr/bin/*'], 'stuff/huge/usr/bin/ls', false],
    [['stuff/huge/*', '!stuff/huge/usr/bin/*'], 'stuff/huge/usr/lib/x', true],
    [['stuff/huge/*', '!stuff/huge/usr/bin/*'], 'stuff/other', false],
  ];
  it.each(multi)('%j on %s: ignored %s', (patterns, file, ignored) => {
    expect(createIgnoreMatcher(patterns)(file)).toBe(ignored);
  });

  it('alternating lines several levels deep: the last line matching the path or a parent decides', () => {
    const m = matcherOf('a\n!a/b\na/b/c\n!a/b/c/d\na/b/c/d/e\n');
    const expected: Record<string, boolean> = {
      'a/x': true, 'a/b': false, 'a/b/y': false, 'a/b/c': true, 'a/b/c/z': true, 'a/b/c/d': false,
      'a/b/c/d/w': false, 'a/b/c/d/e': true, 'a/b/c/d/e/f': true, 'top': false,
    };
    for (const [file, ignored] of Object.entries(expected)) expect([file, m(file)]).toEqual([file, ignored]);
    // A later line repeating an ancestor's pattern excludes again everything below it.
    expect(matcherOf('x\n!x/y\nx\n')('x/y/z')).toBe(true);
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

  it('contextFilter keeps an ignored directory that holds a re-included path, and only that path', async () => {
    const hidden = contextFilter(dir, matcherOf('**\n!docs/api/y.md\n'));
    expect(['docs', 'docs/api', 'docs/api/y.md', 'docs/api/z.txt', 'docs/guide', 'src', 'a.txt', '.'].filter((p) => !hidden(p)))
      .toEqual(['docs', 'docs/api', 'docs/api/y.md', '.']);
    // An exception that matches nothing on disk keeps no directory.
    const none = contextFilter(dir, matcherOf('docs\n!docs/api/missing.md\n'));
    expect(none('docs')).toBe(true);
    expect(none('docs/api')).toBe(true);
    expect(none('src/main.ts')).toBe(false);
    // An empty directory re-included keeps its parents.
    await mkdir(path.join(dir, 'src', 'gen', 'empty'), { recursive: true });
    const emptyKept = contextFilter(dir, matcherOf('src\n!src/gen/empty\n'));
    expect(['src', 'src/gen', 'src/gen/empty', 'src/gen/out.js', 'src/main.ts'].filter((p) => !emptyKept(p))).toEqual(['src', 'src/gen', 'src/gen/empty']);
    await rm(path.join(dir, 'src', 'gen', 'empty'), { recursive: true });
  });

  it('loadIgnoreMatcher reads .containerignore when there is no .dockerignore', async () => {
    const own = await mkdtemp(path.join(os.tmpdir(), 'ribo-ignore-ci-'));
    try {
      await writeFile(path.join(own, '.containerignore'), 'secret\n');
      const fromContainerignore = await loadIgnoreMatcher(own);
      expect(fromContainerignore('secret')).toBe(true);
      expect(fromContainerignore.source).toBe(path.join(own, '.containerignore'));
      await writeFile(path.join(own, '.dockerignore'), 'other\n');
      const fromDockerignore = await loadIgnoreMatcher(own);
      expect(fromDockerignore('secret')).toBe(false);
      expect(fromDockerignore('other')).toBe(true);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
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
