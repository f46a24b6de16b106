/**
 * .dockerignore: Docker's pattern rules (moby's patternmatcher: Go
 * filepath.Match syntax plus `**`, `!` exceptions, later lines win, a match on
 * a parent directory counts), where a build finds its ignore file, and the
 * filter that gives the build context as BuildKit sends it.
 */
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DockerignoreError, LocalSyntaxError } from './errors.js';
import { cleanPath, globToRegexSource } from './glob.js';

export interface IgnorePattern {
  /** The cleaned pattern without its `!`. */
  pattern: string;
  exclusion: boolean;
  /** True when the pattern matches this exact path (not its parents; see `matchesPathOrParent`). */
  test: (path: string) => boolean;
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

const SPECIAL = /[*?[\]\\]/;

/**
 * How one pattern tests a path, with the shortcuts moby's patternmatcher
 * takes (and their quirks): no special characters is an exact comparison; a
 * plain prefix followed by a final `**` is a prefix test ("abc**" matches
 * "abcd"); a leading `**` followed by plain text is a suffix test ("**file"
 * matches "myfile", "**\/file" matches "file" and "a/file"); anything else a regex.
 */
function patternTest(text: string): (path: string) => boolean {
  if (!SPECIAL.test(text)) return (p) => p === text;
  if (text.endsWith('**') && !SPECIAL.test(text.slice(0, -2))) {
    const prefix = text.slice(0, -2);
    return (p) => p.startsWith(prefix);
  }
  if (text.startsWith('**') && !SPECIAL.test(text.slice(2))) {
    const suffix = text.slice(2);
    if (suffix === '') return () => true;
    return (p) => p.endsWith(suffix) || (suffix.startsWith('/') && p === suffix.slice(1));
  }
  const regex = new RegExp(`^${globToRegexSource(text)}$`, 'su');
  return (p) => regex.test(p);
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
    const test = patternTest(text);
    const segments = text.split('/').map((seg) => (seg.includes('**') ? 'any' as const : new RegExp(`^${globToRegexSource(seg, false)}$`, 'su')));
    return { pattern: text, exclusion, test, segments, line: entry.line };
  } catch (err) {
    if (err instanceof LocalSyntaxError || err instanceof SyntaxError) throw new DockerignoreError(source, entry.line, entry.pattern, err.message);
    throw err;
  }
}

/** True when `p` matches `file` or one of its parent directories (moby's MatchesOrParentMatches, per pattern). */
function matchesPathOrParent(p: IgnorePattern, file: string): boolean {
  if (p.test(file)) return true;
  for (let slash = file.indexOf('/'); slash >= 0; slash = file.indexOf('/', slash + 1)) {
    if (p.test(file.slice(0, slash))) return true;
  }
  return false;
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

/**
 * Build a matcher from pattern lines (as written in a .dockerignore). A path is
 * ignored when the last line that matches it or one of its parent directories
 * is not an exception (`!`), as moby's patternmatcher decides.
 */
export function createIgnoreMatcher(lines: ReadonlyArray<string | { pattern: string; line: number }>, source = '.dockerignore'): IgnoreMatcher {
  const patterns = lines
    .map((l, i) => (typeof l === 'string' ? { pattern: l, line: i + 1 } : l))
    .map((l) => compile(l, source))
    .filter((p): p is IgnorePattern => p !== undefined);
  const exceptions = patterns.filter((p) => p.exclusion);

  const matcher = ((relPath: string): boolean => {
    const file = cleanPath(relPath).replace(/^\/+/, '');
    if (file === '.' || file === '') return false;
    let ignored = false;
    for (const p of patterns) {
      // Only a line that could change the answer is tested.
      if (p.exclusion !== ignored) continue;
      if (matchesPathOrParent(p, file)) ignored = !p.exclusion;
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
 * The ignore rules for a build, as BuildKit finds them: `<Dockerfile>.dockerignore`
 * beside the Dockerfile first, then `<context>/.dockerignore`, then
 * `<context>/.containerignore` (podman's name); with none, nothing is ignored.
 * A relative `dockerfilePath` is taken from the current directory, like
 * loadDockerfile; none (a Dockerfile read from stdin) skips the first.
 */
export async function loadIgnoreMatcher(contextDir: string, dockerfilePath?: string): Promise<IgnoreMatcher> {
  const candidates = [
    ...(dockerfilePath ? [path.resolve(`${dockerfilePath}.dockerignore`)] : []),
    path.join(contextDir, '.dockerignore'),
    path.join(contextDir, '.containerignore'),
  ];
  for (const candidate of candidates) {
    const text = await readIfExists(candidate);
    if (text !== undefined) return createIgnoreMatcher(readIgnorePatterns(text), candidate);
  }
  return createIgnoreMatcher([]);
}

/** `hidden(relPath)`: true when the context-relative path is not part of the build context. */
export type ContextFilter = (relPath: string) => boolean;

/**
 * `hidden(relPath)` is true when the path is not part of the build context as
 * BuildKit sends it: the path is ignored, and it is not a directory that still
 * holds something an exception re-includes. Such a directory stays (with its
 * own metadata) and holds only what is re-included, so `**` then
 * `!folder1/file1` keeps `folder1` with just `file1`; COPY, the cache digest
 * and bind mounts walk the context through this filter, and descend into an
 * ignored directory only when an exception could reach inside it.
 */
export function contextFilter(contextDir: string, matcher: IgnoreMatcher): ContextFilter {
  if (matcher.patterns.length === 0) return () => false;
  const root = path.resolve(contextDir);
  /** Ignored directories looked into, and whether anything inside them is kept. */
  const keepsSomething = new Map<string, boolean>();

  const hidden = (relPath: string): boolean => {
    const rel = cleanPath(relPath).replace(/^\/+/, '');
    if (rel === '.' || rel === '' || !matcher(rel)) return false;
    if (!matcher.mayIncludeUnder(rel)) return true;
    return !(lstatSync(path.join(root, rel), { throwIfNoEntry: false })?.isDirectory() && holdsKeptEntry(rel));
  };

  /** Whether an ignored directory holds anything not ignored, at any depth (remembered per directory). */
  const holdsKeptEntry = (dirRel: string): boolean => {
    const known = keepsSomething.get(dirRel);
    if (known !== undefined) return known;
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(path.join(root, dirRel), { withFileTypes: true });
    } catch (err) {
      // An unreadable directory that is ignored anyway is left out, as BuildKit does.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    const found = entries.some((entry) => {
      const rel = `${dirRel}/${entry.name}`;
      return !matcher(rel) || (entry.isDirectory() && matcher.mayIncludeUnder(rel) && holdsKeptEntry(rel));
    });
    keepsSomething.set(dirRel, found);
    return found;
  };
  return hidden;
}

export interface ContextEntry {
  /** Context-relative, `/`-separated. */
  path: string;
  absolutePath: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  /**
   * True for an ignored directory kept only because something inside it is
   * re-included by an exception: it holds nothing else.
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
 * Walk the build context once, in name order, yielding what the build sees
 * (see contextFilter; parents before children). Symlinks are reported, not followed.
 */
export async function* walkContext(contextDir: string, matcher: IgnoreMatcher): AsyncGenerator<ContextEntry> {
  const hidden = contextFilter(contextDir, matcher);

  async function* visit(dirAbs: string, dirRel: string): AsyncGenerator<ContextEntry> {
    for (const name of (await readdir(dirAbs)).sort()) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (hidden(rel)) continue;
      const absolutePath = path.join(dirAbs, name);
      const type = entryType(await lstat(absolutePath));
      yield { path: rel, absolutePath, type, ...(matcher(rel) ? { implicit: true } : {}) };
      if (type === 'dir') yield* visit(absolutePath, rel);
    }
  }

  yield* visit(path.resolve(contextDir), '');
}
