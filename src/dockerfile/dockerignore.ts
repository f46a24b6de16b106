/**
 * .dockerignore: Docker's pattern rules (Go filepath.Match syntax plus `**`,
 * `!` exceptions, later lines win, a match on a parent directory counts) and
 * a context walker that skips ignored directories unless an exception could
 * re-include something inside them.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DockerignoreError, LocalSyntaxError } from './errors.js';
import { cleanPath, globToRegexSource } from './glob.js';

export interface IgnorePattern {
  /** The cleaned pattern without its `!`. */
  pattern: string;
  exclusion: boolean;
  regex: RegExp;
  /** One regex per path segment, for "could anything inside this dir match?". */
  segments: Array<RegExp | 'any'>;
  line: number;
}

/** `matcher(relPath)` is true when the path is ignored. Paths are context-relative, `/`-separated. */
export interface IgnoreMatcher {
  (relPath: string): boolean;
  readonly patterns: readonly IgnorePattern[];
  /** The ignore file the patterns came from, if any. */
  readonly source?: string;
  /** True if an exception pattern could re-include something below `dir`. */
  mayIncludeUnder(dir: string): boolean;
}

/** Read pattern lines: comments, blank lines, cleaning, leading `/` removed. */
export function readIgnorePatterns(text: string): Array<{ pattern: string; line: number }> {
  const out: Array<{ pattern: string; line: number }> = [];
  text.replace(/^\ufeff/, '').split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) return;
    let pattern = line.trim();
    if (pattern === '') return;
    const exclusion = pattern.startsWith('!');
    if (exclusion) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push({ pattern: exclusion ? '!' + pattern : pattern, line: i + 1 });
  });
  return out;
}

function compile(entry: { pattern: string; line: number }, source: string): IgnorePattern | undefined {
  let text = entry.pattern.trim();
  if (text === '') return undefined;
  const exclusion = text.startsWith('!');
  if (exclusion) {
    if (text.length === 1) throw new DockerignoreError(source, entry.line, text, 'illegal exclusion pattern: "!"');
    text = text.slice(1);
  }
  text = cleanPath(text);
  try {
    const regex = new RegExp(`^${globToRegexSource(text)}(?:/.*)?$`, 'su');
    const segments = text.split('/').map((seg) => (seg.includes('**') ? 'any' as const : new RegExp(`^${globToRegexSource(seg, false)}$`, 'su')));
    return { pattern: text, exclusion, regex, segments, line: entry.line };
  } catch (err) {
    if (err instanceof LocalSyntaxError || err instanceof SyntaxError) throw new DockerignoreError(source, entry.line, entry.pattern, err.message);
    throw err;
  }
}

function couldMatchBelow(p: IgnorePattern, dirParts: string[]): boolean {
  for (let i = 0; i < dirParts.length; i++) {
    const seg = p.segments[i];
    if (seg === undefined) return true; // the pattern matches an ancestor, hence everything below
    if (seg === 'any') return true;
    if (!seg.test(dirParts[i]!)) return false;
  }
  return true;
}

/** Build a matcher from pattern lines (as written in a .dockerignore). */
export function createIgnoreMatcher(lines: ReadonlyArray<string | { pattern: string; line: number }>, source = '.dockerignore'): IgnoreMatcher {
  const patterns = lines
    .map((l, i) => (typeof l === 'string' ? { pattern: l, line: i + 1 } : l))
    .map((l) => compile(l, source))
    .filter((p): p is IgnorePattern => p !== undefined);
  const exceptions = patterns.filter((p) => p.exclusion);

  const matcher = ((relPath: string): boolean => {
    const file = cleanPath(relPath.replace(/\\/g, '/')).replace(/^\/+/, '');
    const slash = file.lastIndexOf('/');
    const parents = slash < 0 ? [] : file.slice(0, slash).split('/');
    let ignored = false;
    for (const p of patterns) {
      if (p.exclusion !== ignored) continue;
      let match = p.regex.test(file);
      for (let i = 1; !match && i <= parents.length; i++) match = p.regex.test(parents.slice(0, i).join('/'));
      if (match) ignored = !p.exclusion;
    }
    return ignored;
  }) as IgnoreMatcher;
  Object.defineProperty(matcher, 'patterns', { value: patterns });
  Object.defineProperty(matcher, 'source', { value: patterns.length > 0 || lines.length > 0 ? source : undefined });
  Object.defineProperty(matcher, 'mayIncludeUnder', {
    value: (dir: string) => {
      const parts = cleanPath(dir).split('/').filter((s) => s !== '' && s !== '.');
      return exceptions.some((p) => couldMatchBelow(p, parts));
    },
  });
  return matcher;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The ignore rules for a build: `<Dockerfile>.dockerignore` next to the
 * Dockerfile wins over `<context>/.dockerignore`; with neither, nothing is ignored.
 * A relative `dockerfilePath` is taken from the current directory, like loadDockerfile.
 */
export async function loadIgnoreMatcher(contextDir: string, dockerfilePath?: string): Promise<IgnoreMatcher> {
  const candidates = [
    ...(dockerfilePath ? [path.resolve(`${dockerfilePath}.dockerignore`)] : []),
    path.join(contextDir, '.dockerignore'),
  ];
  for (const candidate of candidates) {
    const text = await readIfExists(candidate);
    if (text !== undefined) return createIgnoreMatcher(readIgnorePatterns(text), candidate);
  }
  return createIgnoreMatcher([]);
}

export interface ContextEntry {
  /** Context-relative, `/`-separated. */
  path: string;
  absolutePath: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  /**
   * True for an ignored directory yielded only because something inside it
   * is re-included by an exception: create it, do not copy its other contents.
   */
  implicit?: boolean;
}

function entryType(stats: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): ContextEntry['type'] {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  return 'other';
}

/**
 * Walk the build context once, in name order, yielding what is not ignored
 * (parents before children). Symlinks are reported, not followed.
 */
export async function* walkContext(contextDir: string, matcher: IgnoreMatcher): AsyncGenerator<ContextEntry> {
  const pending: Array<{ entry: ContextEntry; yielded: boolean }> = [];

  async function* visit(dirAbs: string, dirRel: string): AsyncGenerator<ContextEntry> {
    const names = (await readdir(dirAbs)).sort();
    for (const name of names) {
      const absolutePath = path.join(dirAbs, name);
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const type = entryType(await lstat(absolutePath));
      const entry: ContextEntry = { path: rel, absolutePath, type };
      const ignored = matcher(rel);
      if (!ignored) {
        for (const p of pending) {
          if (!p.yielded) {
            p.yielded = true;
            yield { ...p.entry, implicit: true };
          }
        }
        yield entry;
        if (type === 'dir') yield* visit(absolutePath, rel);
      } else if (type === 'dir' && matcher.mayIncludeUnder(rel)) {
        pending.push({ entry, yielded: false });
        yield* visit(absolutePath, rel);
        pending.pop();
      }
    }
  }

  yield* visit(path.resolve(contextDir), '');
}
