import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { createIgnoreMatcher } from '../dockerfile/index.js';
import { RiboError } from '../errors.js';
import { resolveInRoot } from '../files/root-path.js';
import { copyIntoRoot, mkdirInRoot, TreeCopier, type Owner } from '../files/tree-copy.js';

export type { Owner } from '../files/tree-copy.js';

export class CopySourceError extends RiboError {}

export interface CopyRequest {
  contextDir: string;
  /** Source paths as written, relative to the context (a leading / means the context root). */
  sources: string[];
  /** Absolute destination inside the container; a trailing / means "into this directory". */
  dest: string;
  rootfs: string;
  owner: Owner;
  /**
   * Copied entries keep the owners they have in the source (COPY --from without
   * --chown, as Docker and BuildKit do); directories made for the destination still get `owner`.
   */
  keepOwners?: boolean;
  /** Context-relative paths (with forward slashes) that .dockerignore excludes. */
  isIgnored?: (relPath: string) => boolean;
  /** --chmod: permission bits set on every file and directory copied. */
  chmod?: number;
  /** --exclude patterns (.dockerignore syntax), matched against source-relative and context-relative paths. */
  exclude?: string[];
  /** --parents: keep each source's parent directories (below a `/./` in the source, if any). */
  parents?: boolean;
}

/** One match of a COPY source: its context-relative path and the part of it --parents keeps. */
export interface CopyMatch {
  rel: string;
  kept: string;
}

/** Parses --chmod's octal value; null when it is not an octal mode. */
export function parseChmod(value: string): number | null {
  return /^[0-7]{1,4}$/.test(value) ? Number.parseInt(value, 8) : null;
}

/**
 * The filter COPY applies below one source `sourceRel`: .dockerignore'd paths, and
 * --exclude patterns matched against the path relative to the source and to the context.
 */
export function copySkipFilter(sourceRel: string, isIgnored?: (rel: string) => boolean, exclude: string[] = []): ((rel: string) => boolean) | undefined {
  const excluded = exclude.length > 0 ? createIgnoreMatcher(exclude, '--exclude') : undefined;
  if (!excluded) return isIgnored;
  const base = sourceRel === '.' ? '' : `${sourceRel}/`;
  return (rel: string) => {
    if (isIgnored?.(rel) || excluded(rel)) return true;
    return base !== '' && rel.startsWith(base) && excluded(rel.slice(base.length));
  };
}

const GLOB_CHARS = /[*?[]/;

/** Whether a source has a wildcard that is not escaped with a backslash. */
function hasWildcard(source: string): boolean {
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (GLOB_CHARS.test(source[i]!)) return true;
  }
  return false;
}

/** Go filepath.Match for one path component, as Docker uses for COPY sources. */
export function componentPattern(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) throw new CopySourceError(`COPY source pattern "${pattern}" has an unclosed "[".`);
      let body = pattern.slice(i + 1, close);
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Context-relative paths a source names: itself, or every match of its wildcards, sorted. */
async function expandSource(contextDir: string, source: string): Promise<string[]> {
  const clean = path.posix.normalize(`/${source}`).slice(1).replace(/\/+$/, '');
  if (clean.startsWith('..')) {
    throw new CopySourceError(`COPY source "${source}" is outside the build context; only files under the context directory can be copied.`);
  }
  if (!GLOB_CHARS.test(clean)) return [clean === '' ? '.' : clean];
  let candidates = [''];
  for (const component of clean.split('/')) {
    const next: string[] = [];
    for (const base of candidates) {
      if (!GLOB_CHARS.test(component)) {
        next.push(path.posix.join(base, component));
        continue;
      }
      const matcher = componentPattern(component);
      const entries = await readdir(path.join(contextDir, base)).catch(() => [] as string[]);
      for (const name of entries.sort()) if (matcher.test(name)) next.push(path.posix.join(base, name));
    }
    candidates = next;
  }
  return candidates;
}

/** The context-relative paths COPY's sources name, wildcards expanded, ignored ones dropped. */
export async function resolveCopySources(contextDir: string, sources: string[], isIgnored?: (rel: string) => boolean, exclude: string[] = []): Promise<string[]> {
  return (await resolveCopyMatches(contextDir, sources, isIgnored, exclude)).map((m) => m.rel);
}

/**
 * A source named through a symlink is followed inside the context (as
 * BuildKit does, never to the host's file the link names); one whose target
 * is not in the context is an error naming both.
 */
async function assertLinkResolves(contextDir: string, source: string, rel: string): Promise<void> {
  const resolved = await resolveInRoot(contextDir, rel);
  if (await lstat(resolved).then(() => true, () => false)) return;
  const link = await readlink(path.join(contextDir, rel)).catch(() => undefined);
  const inContext = `/${path.relative(contextDir, resolved)}`;
  throw new CopySourceError(
    `COPY source "${source}"${rel !== source ? ` (${rel})` : ''} is ${link !== undefined ? `a symlink to ${link}` : 'reached through a symlink'}, which resolves inside the build context ${contextDir} to ${inContext}, and that does not exist. ` +
      `A symlink named as a source is followed inside the context, as with docker build, never out of it: copy the file into the context, or point the link at a file there.`,
  );
}

/** Like resolveCopySources, with the part of each match that --parents keeps. */
export async function resolveCopyMatches(contextDir: string, sources: string[], isIgnored?: (rel: string) => boolean, exclude: string[] = []): Promise<CopyMatch[]> {
  const excluded = exclude.length > 0 ? createIgnoreMatcher(exclude, '--exclude') : undefined;
  const matches: CopyMatch[] = [];
  for (const source of sources) {
    // A "/./" in the source marks where --parents starts keeping directories.
    const pivotAt = source.indexOf('/./');
    const pivot = pivotAt < 0 ? '' : path.posix.normalize(`/${source.slice(0, pivotAt)}`).slice(1);
    const expanded = await expandSource(contextDir, source);
    const present: CopyMatch[] = [];
    for (const rel of expanded) {
      if (rel !== '.' && (isIgnored?.(rel) || excluded?.(rel))) continue;
      if (await lstat(path.join(contextDir, rel)).then(() => true, () => false)) {
        await assertLinkResolves(contextDir, source, rel);
        const kept = pivot && (rel === pivot || rel.startsWith(`${pivot}/`)) ? rel.slice(pivot.length).replace(/^\//, '') : rel;
        present.push({ rel, kept: kept === '.' ? '' : kept });
      }
    }
    // A wildcard that matches nothing is fine while another source matches (as BuildKit).
    if (present.length === 0 && !hasWildcard(source)) {
      throw new CopySourceError(`COPY source "${source}" was not found in the build context ${contextDir} (or .dockerignore or --exclude leaves it out). Check the path; sources are relative to the context directory.`);
    }
    matches.push(...present);
  }
  if (matches.length === 0 && sources.length > 0) {
    const named = sources.map((s) => `"${s}"`).join(', ');
    throw new CopySourceError(`No file in the build context ${contextDir} matches ${named} (or .dockerignore or --exclude leaves them out). Check the patterns; sources are relative to the context directory.`);
  }
  return matches;
}

/**
 * COPY from the build context, with Docker's rules: a directory source (named or
 * matched by a wildcard) copies its contents; a symlink named as a source is
 * followed; a file goes into dest when dest ends with / or is a directory, else
 * becomes dest; several matches (of a wildcard) make dest a directory.
 * With --parents each match lands at dest/<its path>, parents kept.
 */
export async function copyFromContext(req: CopyRequest): Promise<void> {
  const matches = await resolveCopyMatches(req.contextDir, req.sources, req.isIgnored, req.exclude);
  // Several matches of one wildcard source go into a directory, as with BuildKit.
  const destIsDir = req.dest.endsWith('/') || matches.length > 1;
  const copyOptions = { owner: req.owner, keepOwners: req.keepOwners, mode: req.chmod, what: 'COPY source' };
  for (const { rel, kept } of matches) {
    const skip = copySkipFilter(rel, req.isIgnored, req.exclude);
    // A source that is a symlink is followed (inside the context), as Docker does.
    const src = await resolveInRoot(req.contextDir, rel);
    const isDir = (await lstat(src)).isDirectory();
    if (req.parents && kept && isDir) {
      await copyIntoRoot({ ...copyOptions, skip, src, rel, rootfs: req.rootfs, dest: path.posix.join(req.dest, kept), destIsDir });
    } else if (req.parents && !isDir) {
      const parent = await mkdirInRoot(req.rootfs, path.posix.join(req.dest, path.posix.dirname(kept)), req.owner);
      await new TreeCopier(copyOptions).copy(src, path.join(parent, path.posix.basename(kept)), rel);
    } else {
      await copyIntoRoot({ ...copyOptions, skip, src, rel, rootfs: req.rootfs, dest: req.dest, destIsDir });
    }
  }
}
