import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { markTopDir } from '../files/spread-dirs.js';
import { contextFilter, formatPlatform, hostPlatform, loadDockerfile, loadIgnoreMatcher, parseDockerfile, planStages, toStages } from '../dockerfile/index.js';
import type { Descriptor, ImageConfig, ImageManifest } from '../oci/image.js';
import { MediaType } from '../oci/image.js';
import { imageIdOf, type Store } from '../store/index.js';
import { NeedsNamespaceError, type BuildOptions, type BuildResult } from './build-options.js';
import { BuildCache } from './cache/build-cache.js';
import { FileDigestCache } from './cache/file-digests.js';
import { CacheDir } from './cache/cache-dir.js';
import { withInlineCache } from './cache/image-cache.js';
import { emulationSummary, stagePlatforms } from './context-and-platform.js';
import { BuildStepError } from './errors.js';
import { StageBuilder } from './stage-builder.js';
import type { StageState } from './stage-state.js';

export { NeedsNamespaceError, type BuildOptions, type BuildResult } from './build-options.js';

/** Builds the Dockerfile's target stage into an image in the store and tags it. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  // The builds of a multi-platform build are parts of one: it reports the start and the end.
  const part = opts.shared !== undefined;
  if (!part) opts.reporter.report({ type: 'build-start', time: started, dockerfile: opts.dockerfile, context: opts.contextDir ?? '(none)' });
  try {
    const result = await buildImage(opts);
    // The image id docker prints (the config digest), the same `ribo build` prints on stdout.
    if (!part) opts.reporter.report({ type: 'build-done', time: Date.now(), image: await imageIdOf(opts.store, result.manifest), tags: result.tags, durationMs: Date.now() - started });
    return result;
  } catch (error) {
    if (!(error instanceof NeedsNamespaceError) && !part) {
      opts.reporter.report({ type: 'build-failed', time: Date.now(), durationMs: Date.now() - started, message: error instanceof Error ? error.message : String(error) });
    }
    throw error;
  }
}

async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const parsed = opts.dockerfileText !== undefined ? parseDockerfile(opts.dockerfileText, opts.dockerfile) : await loadDockerfile(opts.dockerfile);
  const target = opts.platform ?? hostPlatform();
  const { stages, warnings } = toStages(parsed, { buildArgs: opts.buildArgs ?? {}, target: opts.target, platform: formatPlatform(target) });
  for (const warning of [...parsed.warnings, ...warnings]) {
    opts.reporter.report({ type: 'warning', time: Date.now(), message: `${warning.rule}: ${warning.message}`, file: warning.location?.file, line: warning.location?.startLine });
  }
  if (stages.length === 0) throw new BuildStepError('the Dockerfile has no FROM instruction, so there is nothing to build.', { file: opts.dockerfile, startLine: 1, endLine: 1 });
  const plan = planStages(stages, opts.target, { buildArgs: opts.buildArgs });
  const platforms = stagePlatforms(stages, target);
  const emulated = emulationSummary(stages, [...plan.order, plan.target], platforms);
  if (emulated) opts.reporter.report({ type: 'info', time: Date.now(), message: emulated });
  // What the build sees of its context: .dockerignore'd paths left out, exceptions kept (BuildKit's rules).
  // A Dockerfile from stdin has no Dockerfile-specific ignore file.
  const hidden = opts.contextDir === undefined
    ? () => false
    : contextFilter(opts.contextDir, await loadIgnoreMatcher(opts.contextDir, opts.dockerfileText === undefined ? opts.dockerfile : undefined));
  const workRoot = await opts.store.makeTempDir('build-');
  // Each step's tree in a block group of its own, away from trees just removed (files/spread-dirs.ts).
  await markTopDir(workRoot);
  // Without a context, steps that read it fail (checkContextUse); an empty directory stands in for the rest.
  const contextDir = opts.contextDir ?? path.join(workRoot, 'no-context');
  if (opts.contextDir === undefined) await mkdir(contextDir);
  const contextDigests = await FileDigestCache.open(path.join(opts.store.root, 'cache'), contextDir);
  const builder = new StageBuilder(opts, stages, platforms, workRoot, contextDir, hidden, new BuildCache(opts.store.root), contextDigests, plan.target);
  try {
    // Stages of one group depend only on earlier groups, so they may run together.
    for (const group of plan.groups) {
      await runLimited(group.map((index) => () => builder.buildStage(stages[index]!)), Math.max(1, opts.jobs ?? 1));
    }
    const state = await builder.buildStage(stages[plan.target]!);
    await builder.settled();
    if (opts.cacheTo) await new CacheDir(opts.cacheTo).store(builder.usedSteps, opts.store);
    for (const target of opts.cacheExports ?? []) await target.store(builder.usedSteps, opts.store);
    if (opts.labels && Object.keys(opts.labels).length > 0) {
      state.config.config = { ...state.config.config, Labels: { ...state.config.config?.Labels, ...opts.labels } };
    }
    if (opts.inlineCache) state.config = withInlineCache(state.config, builder.usedSteps, state.layers);
    const result = await writeImage(opts.store, state, opts.epoch);
    for (const tag of opts.tags) await opts.store.tag(tag, result.manifest);
    return { ...result, tags: opts.tags };
  } finally {
    // A failed build still lets its background commits end: nothing is left half-written.
    await builder.settled().catch(() => undefined);
    // The work dir goes even when saving the digests fails (a full disk).
    await contextDigests.save().finally(() => rm(workRoot, { recursive: true, force: true }));
  }
}

/** Runs tasks with at most `limit` at a time; the first failure fails the whole. */
async function runLimited(tasks: Array<() => Promise<unknown>>, limit: number): Promise<void> {
  const queue = [...tasks];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let task = queue.shift(); task; task = queue.shift()) await task();
  });
  await Promise.all(workers);
}

async function writeImage(store: Store, state: StageState, epoch: number): Promise<{ manifest: Descriptor; config: ImageConfig }> {
  const created = new Date(epoch * 1000).toISOString();
  const config: ImageConfig = {
    ...state.config,
    // From the layers: those committed in the background learnt their diffIDs after the steps that followed them.
    rootfs: { ...state.config.rootfs, diff_ids: state.layers.map((l) => l.diffID) },
    created,
    history: state.history.map((h) => ({ created, ...h })),
  };
  const configDescriptor = await store.writeJSON(MediaType.imageConfig, config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.imageManifest,
    config: configDescriptor,
    layers: state.layers.map((l) => l.descriptor),
  };
  const manifestDescriptor = await store.writeJSON(MediaType.imageManifest, manifest);
  return { manifest: manifestDescriptor, config };
}
