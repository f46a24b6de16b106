/**
 * COPY and ADD as build steps: what decides their cache key, and carrying
 * them out over the stage's layers (or, with --link, into a layer of their own).
 */
import { lstat, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CopyCommand } from '../dockerfile/commands.js';
import { lowerDirs, type LayerRef } from '../image/layers.js';
import { changeInView, type Snapshotter } from '../snapshot/index.js';
import type { StepInputs } from './cache/build-cache.js';
import { digestCopySources } from './cache/context-digest.js';
import type { FileDigestCache } from './cache/file-digests.js';
import type { DownloadCache } from './cache/download-cache.js';
import { chownNeedsImage, resolveChown } from './chown.js';
import { copyFromContext, copySkipFilter, parseChmod, resolveCopyMatches, type CopyRequest, type Owner } from './copy.js';
import { archiveKind, downloadUrl, extractArchive, isGitSource, isUrlSource, type Download } from './add-source.js';
import { BuildStepError } from './errors.js';
import { makeDirsInRoot, resolveInRoot } from '../files/root-path.js';

export interface CopyStepEnv {
  driver: Snapshotter;
  contextDir: string;
  isIgnored: (rel: string) => boolean;
  /** The stage's layers before this step, and its working directory. */
  layers: LayerRef[];
  workingDir: string;
  /** COPY --from, resolved by the builder: the layers to read from and their cache key. */
  from?: { layers: LayerRef[]; key: string };
  /** Mounts layers so their files can be read; the result is unmounted by the caller. */
  mountLayers: (layers: LayerRef[], dir: string) => Promise<{ dir: string; unmount: () => Promise<void> }>;
  /** A directory that lives while the build does (downloads go there). */
  scratchDir: string;
  /** The build's timestamp: the mtime of a download whose server sent no Last-Modified. */
  epoch: number;
  /** Content digests of context files remembered between builds. */
  contextDigests?: FileDigestCache;
  /** The last download of each ADD URL, asked about before fetching again. */
  downloads?: DownloadCache;
}

export interface PlannedStep {
  inputs: StepInputs;
  /** Carries the step out; resolves with the upper dir holding its changes. */
  execute: (workDir: string) => Promise<string>;
}

const HEREDOC_SOURCE = /^<<-?(["']?)([^"'\s]+)\1$/;

/** Escapes wildcard characters so a resolved path is matched literally. */
function literal(rel: string): string {
  return rel.replace(/[*?[\\]/g, '\\$&');
}

/** An unpacked-archive or downloaded-file source of ADD, or a plain one. */
type Part =
  | { kind: 'plain'; sources: string[]; root: 'context' | 'from' }
  | { kind: 'heredoc'; name: string; content: string }
  | { kind: 'url'; download: Download }
  | { kind: 'archive'; rel: string; archive: NonNullable<Awaited<ReturnType<typeof archiveKind>>> };

type Fail = (error: unknown) => never;

export async function planCopyStep(env: CopyStepEnv, command: CopyCommand): Promise<PlannedStep> {
  const fail: Fail = (error) => {
    throw error instanceof BuildStepError ? error : new BuildStepError((error as Error).message, command.location, { cause: error });
  };
  const written = destinationPath(command.dest, env.workingDir);
  let chmod: number | undefined;
  if (command.chmod !== undefined) {
    const parsed = parseChmod(command.chmod);
    if (parsed === null) fail(new Error(`--chmod=${command.chmod} is not an octal mode; give one like 0755 or 644.`));
    chmod = parsed ?? undefined;
  }
  const inputs: StepInputs = {
    copy: JSON.stringify({
      kind: command.kind, sources: command.sources, dest: written, chown: command.chown ?? '', chmod: command.chmod ?? '',
      link: command.link, parents: command.parents, exclude: command.exclude, unpack: command.unpack ?? null, checksum: command.checksum ?? '',
      heredocs: command.heredocs.map((h) => [h.name, h.content]),
    }),
  };
  if (env.from) inputs.from = env.from.key;
  const { parts, matchCount } = await collectParts(env, command, inputs, fail);
  // Several files (named or matched by wildcards) make the destination a directory, as
  // BuildKit does (the classic builder refused a destination without a trailing /).
  const dest = matchCount > 1 && !written.endsWith('/') ? `${written}/` : written;
  const carryOut = (rootfs: string, owner: Owner, fromDir: string | undefined, workDir: string) =>
    carryOutParts(env, command, parts, { dest, rootfs, owner, chmod, exclude: command.exclude, parents: command.parents }, fromDir, workDir);

  return {
    inputs,
    execute: async (workDir) => {
      const from = env.from ? await env.mountLayers(env.from.layers, path.join(workDir, 'from')) : undefined;
      try {
        if (command.link) {
          // --link: the files go into a layer of their own, made without reading the stage's files.
          const upper = path.join(workDir, 'upper');
          await mkdir(upper, { recursive: true });
          await carryOut(upper, await linkOwner(env, command, workDir), from?.dir, workDir);
          return upper;
        }
        return await changeInView(env.driver, { lowers: lowerDirs(env.layers), dir: workDir, volatile: true }, async (rootfs) => {
          await carryOut(rootfs, await ownerIn(command, rootfs), from?.dir, workDir);
        });
      } catch (error) {
        return fail(error);
      } finally {
        await from?.unmount();
      }
    },
  };
}

/**
 * What a COPY or ADD copies, in order: heredocs, downloads, local archives to
 * unpack and plain sources, each with its part of the cache key in `inputs`;
 * and how many sources it names or matches.
 */
async function collectParts(env: CopyStepEnv, command: CopyCommand, inputs: StepInputs, fail: Fail): Promise<{ parts: Part[]; matchCount: number }> {
  const parts: Part[] = [];
  const plain: string[] = [];
  let matchCount = 0;
  for (const source of command.sources) {
    const heredoc = HEREDOC_SOURCE.exec(source);
    const body = heredoc && command.heredocs.find((h) => h.name === heredoc[2]);
    if (body) {
      parts.push({ kind: 'heredoc', name: body.name, content: body.content });
      matchCount++;
      continue;
    }
    if (command.kind === 'ADD' && isGitSource(source)) {
      fail(new Error(`ADD of a git repository (${source}) is not supported by this version of ribo; clone it in a RUN step or copy a checkout from the context.`));
    }
    if (command.kind === 'ADD' && isUrlSource(source)) {
      const download = await downloadUrl(source, path.join(env.scratchDir, `download-${parts.length}-${Date.now()}`), command.checksum, new Date(env.epoch * 1000), env.downloads).catch(fail);
      inputs[`url ${source}`] = `${download.digest} ${download.name} ${download.modified?.toISOString() ?? ''}`;
      parts.push({ kind: 'url', download });
      matchCount++;
      continue;
    }
    if (command.checksum !== undefined) fail(new Error('ADD --checksum is only for http(s) URL sources.'));
    plain.push(source);
  }
  if (plain.length === 0) return { parts, matchCount };
  if (env.from) {
    // The other stage's files are only known once it is mounted; its key covers them.
    parts.push({ kind: 'plain', sources: plain, root: 'from' });
    return { parts, matchCount: matchCount + plain.length };
  }
  const matches = await resolveCopyMatches(env.contextDir, plain, env.isIgnored, command.exclude).catch(fail);
  const plainRels: string[] = [];
  for (const { rel } of matches) {
    inputs[`source ${rel}`] = await digestCopySources(env.contextDir, [rel], copySkipFilter(rel, env.isIgnored, command.exclude), env.contextDigests);
    const full = await resolveInRoot(env.contextDir, rel);
    const isFile = (await lstat(full)).isFile();
    const archive = command.kind === 'ADD' && command.unpack !== false && isFile ? await archiveKind(full) : undefined;
    if (archive) parts.push({ kind: 'archive', rel, archive });
    else plainRels.push(rel);
  }
  // ADD resolves sources itself to tell archives apart; COPY keeps them as written (--parents needs that).
  if (command.kind === 'ADD') {
    if (plainRels.length > 0) parts.push({ kind: 'plain', sources: plainRels.map(literal), root: 'context' });
  } else parts.push({ kind: 'plain', sources: plain, root: 'context' });
  return { parts, matchCount: matchCount + matches.length };
}

/** The owner --chown names, looked up in `rootfs` (root without --chown). */
function ownerIn(command: CopyCommand, rootfs: string | undefined): Promise<Owner> {
  if (!command.chown) return Promise.resolve({ uid: 0, gid: 0 });
  return resolveChown(rootfs ?? '/nonexistent', command.chown);
}

/** COPY --link's owner: names need the image's files, mounted for that only. */
async function linkOwner(env: CopyStepEnv, command: CopyCommand, workDir: string): Promise<Owner> {
  if (!command.chown || !chownNeedsImage(command.chown)) return ownerIn(command, undefined);
  const image = await env.mountLayers(env.layers, path.join(workDir, 'image'));
  try {
    return await ownerIn(command, image.dir);
  } finally {
    await image.unmount();
  }
}

async function carryOutParts(env: CopyStepEnv, command: CopyCommand, parts: Part[], base: Omit<CopyRequest, 'contextDir' | 'sources'>, fromDir: string | undefined, workDir: string): Promise<void> {
  for (const part of parts) {
    if (part.kind === 'plain') {
      const fromStage = part.root === 'from';
      const contextDir = fromStage ? fromDir! : env.contextDir;
      await copyFromContext({ ...base, contextDir, sources: part.sources, isIgnored: fromStage ? undefined : env.isIgnored, keepOwners: fromStage && !command.chown });
    } else if (part.kind === 'heredoc') {
      const dir = path.join(workDir, 'heredoc', part.name);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, part.name), part.content, { mode: 0o644 });
      await copyFromContext({ ...base, contextDir: dir, sources: [part.name] });
    } else if (part.kind === 'url') {
      await copyFromContext({ ...base, contextDir: part.download.dir, sources: [literal(part.download.name)] });
    } else {
      // A local archive is unpacked into the destination directory, keeping the owners and modes it holds.
      await makeDirsInRoot(base.rootfs, base.dest, base.owner, `Cannot unpack ${part.rel} into ${base.dest}`);
      await extractArchive(path.join(env.contextDir, part.rel), part.archive, base.rootfs, base.dest);
    }
  }
}

/**
 * The destination as a clean absolute container path, cleaned lexically as Docker
 * and BuildKit clean it (`/link/..` is `/`, whatever /link points to); a trailing
 * `/` (or a destination of `.`) is kept: it means "into this directory".
 */
function destinationPath(dest: string, workingDir: string): string {
  const absolute = path.posix.resolve('/', workingDir, dest);
  const intoDir = dest.endsWith('/') || dest === '.' || /\/\.{1,2}$/.test(dest) || dest === '..';
  return intoDir && absolute !== '/' ? `${absolute}/` : absolute;
}
