import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command, CopyCommand, RunCommand, SourceLocation, Stage } from '../dockerfile/commands.js';
import { contextFilter, expandCommand, formatPlatform, hostPlatform, loadDockerfile, loadIgnoreMatcher, parseDockerfile, planStages, samePlatform, toStages, type Platform } from '../dockerfile/index.js';
import type { Descriptor, Digest, HistoryEntry, ImageConfig, ImageManifest } from '../oci/image.js';
import { MediaType } from '../oci/image.js';
import { imageLayerRefs, unpackImageLayers, lowerDirs, type LayerRef } from '../image/layers.js';
import { setEnv } from '../image/env.js';
import { DEFAULT_PATH } from '../image/platform.js';
import type { Compression } from '../layer/index.js';
import { runContainer } from '../runtime/container.js';
import { changeInView, dropRuntimeStubs, unpackLayerBlob, type Snapshotter } from '../snapshot/index.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { resolveUser } from '../runtime/users.js';
import { imageIdOf, type Store } from '../store/index.js';
import { BuildCache, stepKey, type CacheExport, type CacheImport, type CachedStep, type StepInputs } from './cache/build-cache.js';
import { FileDigestCache } from './cache/file-digests.js';
import { CacheDir } from './cache/cache-dir.js';
import { ImageCache, withInlineCache, withoutInlineCache } from './cache/image-cache.js';
import { commitUpperDir, startCommit, type LayerBlob } from './commit.js';
import { DownloadCache } from './cache/download-cache.js';
import { checkContextUse, emulationSummary, stagePlatforms } from './context-and-platform.js';
import { checkEmulation, needsEmulation } from '../runtime/emulation.js';
import type { SharedBuildWork } from './shared-work.js';
import { planCopyStep } from './copy-step.js';
import { onbuildCommands } from './onbuild.js';
import { planRunMounts, type SecretSource } from './run-mounts.js';
import { BuildStepError, RunStepFailedError, where } from './errors.js';
import { ImageSources, misspeltStage, stageIndexes } from './image-sources.js';
import { makeDirsInRoot, NotADirectoryInImageError } from '../files/root-path.js';
import { expansionEnv, runEnv, scratchState, type StageState } from './stage-state.js';
import { applyConfigCommand, createVolumeDirs, isConfigCommand } from './config-commands.js';
import type { BuildReporter, StepInfo } from './progress/events.js';
import { stepOutputStream } from './progress/step-output.js';

export interface BuildOptions {
  store: Store;
  /** Makes the stage's layers into root file systems (the session's storage driver). */
  driver: Snapshotter;
  runtime: OciRuntime;
  /** Ids usable in ribo's namespace (container user namespaces map that many). */
  idCount: number;
  /** The build context; undefined when there is none (`ribo build -`: the Dockerfile came from stdin). */
  contextDir?: string;
  /** The Dockerfile's path, or its name in messages when `dockerfileText` is given. */
  dockerfile: string;
  /** The Dockerfile itself when it was not read from a file (stdin). */
  dockerfileText?: string;
  tags: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  /** Receives the build's progress events, the output of RUN steps included. */
  reporter: BuildReporter;
  /** Seconds since 1970 used for every timestamp the build writes (history, config, clamped file times). */
  epoch: number;
  /** Reuse earlier results of unchanged steps (false: --no-cache). */
  useCache?: boolean;
  /** Say for every rebuilt step which input changed. */
  explain?: boolean;
  /** Stages built at the same time at most. */
  jobs?: number;
  /**
   * Outside ribo's namespace nothing can be mounted or run: the build then only
   * succeeds when every step is in the cache, and throws NeedsNamespaceError at
   * the first that is not, so the caller can build inside the namespace instead.
   */
  cachedOnly?: boolean;
  /** Labels set on the image (--label), after the Dockerfile's own. */
  labels?: Record<string, string>;
  /** Directories to take cached steps from (--cache-from type=local). */
  cacheFrom?: string[];
  /** The network of RUN steps that do not choose one (--network; default host). */
  network?: 'host' | 'none';
  /** Secrets RUN --mount=type=secret can use (--secret), by id. */
  secrets?: ReadonlyMap<string, SecretSource>;
  /** Where secrets given as env= are read from (default: process.env). */
  processEnv?: NodeJS.ProcessEnv;
  /** Directory to write this build's steps and layers to (--cache-to type=local). */
  cacheTo?: string;
  /** Other places to take cached steps from and write them to (--cache-from/--cache-to type=registry). */
  cacheImports?: CacheImport[];
  cacheExports?: CacheExport[];
  /** Fetches an image that is not in the store (FROM / COPY --from of a registry image) for a platform; resolves to its manifest digest. */
  pullImage?: (ref: string, store: Store, platform: Platform) => Promise<string>;
  /** --pull: look in the registry for a newer version of every image the build starts from. */
  pull?: boolean;
  /** --no-cache-filter: stages (by name or index) whose steps all run again. */
  noCacheStages?: string[];
  /** --cache-from IMAGE: images whose inline cache (image-cache.ts) this build may reuse steps of. */
  cacheFromImages?: string[];
  /** --cache-to type=inline: write the steps' keys into the image's config. */
  inlineCache?: boolean;
  /** The platform to build for (--platform); default this machine's. */
  platform?: Platform;
  /** Set by a multi-platform build: what its per-platform builds share. */
  shared?: SharedBuildWork;
  /** Compression of the layers this build writes (default gzip); part of each layer step's cache key. */
  compression?: Compression;
}

/** A cached-only build met a step it would have to carry out. */
export class NeedsNamespaceError extends Error {}

export interface BuildResult {
  manifest: Descriptor;
  config: ImageConfig;
  tags: string[];
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];

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

/** A layer-producing step made ready to run: its inputs decide whether the cache has it. */
interface LayerStep {
  inputs: StepInputs;
  createdBy: string;
  /** Carries the step out (numbered `step` in the progress events); resolves with the upper dir holding its changes. */
  execute: (workDir: string, step: number) => Promise<string>;
}

class StageBuilder {
  private readonly stageBuilds = new Map<number, Promise<StageState>>();
  private readonly cacheImports: CacheImport[];
  private readonly downloads: DownloadCache;
  private readonly images: ImageSources;
  /** The indexes of the stages --no-cache-filter names. */
  private readonly noCacheStages: Set<number>;
  /** Every layer step of this build by key, reused or run: what --cache-to exports. */
  readonly usedSteps = new Map<string, CachedStep>();
  private step = 0;
  /** binfmt_misc checks by platform: made once, before the first RUN step to emulate. */
  private readonly emulationChecks = new Map<string, Promise<unknown>>();
  /** Steps announced so far: the number progress events give a step. */
  private announced = 0;
  /** Layer blobs being compressed and written while later steps run (build/commit.ts, startCommit). */
  private readonly background: Array<Promise<void>> = [];
  private backgroundFailure?: { error: unknown };

  constructor(
    private readonly opts: BuildOptions,
    private readonly stages: Stage[],
    /** The platform each stage builds for. */
    private readonly platforms: Platform[],
    private readonly workRoot: string,
    private readonly contextDir: string,
    private readonly isIgnored: (rel: string) => boolean,
    private readonly cache: BuildCache,
    private readonly contextDigests: FileDigestCache,
    /** The stage the image is made of: after its last layer step nothing of the build runs but the image's own files. */
    private readonly targetStage: number,
  ) {
    this.downloads = new DownloadCache(path.join(opts.store.root, 'cache', 'downloads'), opts.useCache ?? true);
    this.noCacheStages = stageIndexes(opts.noCacheStages ?? [], stages);
    this.images = new ImageSources({ store: opts.store, ...(opts.pullImage ? { pullImage: opts.pullImage } : {}), pull: opts.pull === true });
    const imageCaches = (opts.cacheFromImages ?? []).map((ref) => new ImageCache(
      () => this.images.resolveForFlag(ref, '--cache-from'),
      () => opts.reporter.report({ type: 'warning', time: Date.now(), message: `--cache-from ${ref}: the image carries no build cache; build it with --cache-to type=inline (or --build-arg BUILDKIT_INLINE_CACHE=1) to reuse its steps.` }),
    ));
    this.cacheImports = [...(opts.cacheFrom ?? []).map((dir) => new CacheDir(dir)), ...(opts.cacheImports ?? []), ...imageCaches];
  }

  private stepInfo(stage: Stage, i: number, command: Command, total: number): StepInfo {
    this.announced += 1;
    return {
      step: this.opts.shared?.nextStepNumber() ?? this.announced,
      stage: this.stageLabel(stage),
      index: i + 1,
      total,
      instruction: command.original.split('\n')[0]!,
      file: command.location.file,
      line: command.location.startLine,
    };
  }

  /** A stage's name in progress output; in a multi-platform build with the platform it builds for. */
  private stageLabel(stage: Stage): string {
    const name = stage.name ?? `stage-${stage.index}`;
    if (!this.opts.shared) return name;
    // BuildKit's spelling: "linux/amd64->arm64 compile" for a stage of the arm64 build that runs natively on amd64.
    const own = this.platforms[stage.index]!;
    const target = this.opts.platform ?? hostPlatform();
    return samePlatform(own, target) ? `${formatPlatform(own)} ${name}` : `${formatPlatform(own)}->${formatPlatform(target).replace(/^linux\//, '')} ${name}`;
  }

  /** Builds a stage once, however many stages and COPY --from ask for it. */
  buildStage(stage: Stage): Promise<StageState> {
    let pending = this.stageBuilds.get(stage.index);
    if (!pending) {
      pending = this.runStage(stage);
      this.stageBuilds.set(stage.index, pending);
    }
    return pending;
  }

  private async runStage(stage: Stage): Promise<StageState> {
    const state = await this.baseState(stage);
    const base = stage.base.kind === 'scratch' ? 'scratch' : stage.base.kind === 'stage' ? (this.stages[stage.base.index]!.name ?? `stage-${stage.base.index}`) : stage.base.ref;
    this.opts.reporter.report({ type: 'stage-start', time: Date.now(), stage: this.stageLabel(stage), base });
    // The base's ONBUILD triggers run first; the image built here does not inherit them.
    const triggers = state.config.config?.OnBuild ?? [];
    if (state.config.config) delete state.config.config.OnBuild;
    const commands = [
      ...onbuildCommands(triggers, base, stage.location, this.opts.buildArgs ?? {}).map((command, i) => ({ command, position: `onbuild.${i}` })),
      ...stage.commands.map((command, i) => ({ command, position: String(i) })),
    ];
    const useCache = (this.opts.useCache ?? true) && !this.noCacheStages.has(stage.index);
    const layerSteps = commands.flatMap(({ command }, i) => (isConfigCommand(command) ? [] : [i]));
    const lastLayerStep = stage.index === this.targetStage ? layerSteps.at(-1) : undefined;
    for (const [i, { command, position }] of commands.entries()) {
      await this.execute(state, command, () => this.stepInfo(stage, i, command, commands.length), `${this.opts.dockerfile}#${stage.index}.${position}`, useCache, i === lastLayerStep);
    }
    return state;
  }

  private async baseState(stage: Stage): Promise<StageState> {
    const base = stage.base;
    const platform = this.platforms[stage.index]!;
    if (base.kind === 'scratch') {
      const state = scratchState();
      state.config.config = { Env: [`PATH=${DEFAULT_PATH}`] };
      const { variant: _variant, ...rest } = state.config;
      state.config = { ...rest, os: platform.os, architecture: platform.architecture, ...(platform.variant ? { variant: platform.variant } : {}) };
      // The cache key covers the platform: the same steps on another one make other layers.
      if (!samePlatform(platform, hostPlatform())) state.cacheKey = `scratch ${formatPlatform(platform)}`;
      return { ...state, platform };
    }
    if (base.kind === 'stage') {
      const parent = await this.buildStage(this.stages[base.index]!);
      return { ...structuredClone({ config: parent.config, history: parent.history }), layers: [...parent.layers], args: new Map(), cmdSetHere: false, cacheKey: parent.cacheKey, platform };
    }
    const image = await this.resolveImage(base.ref, stage.location, platform);
    // A build that may only reuse cached steps never mounts, so it needs no unpacked layers.
    const layers = this.opts.cachedOnly ? imageLayerRefs(image.manifest, image.config, base.ref) : await unpackImageLayers(this.opts.store, image.manifest, image.config, base.ref);
    const config: ImageConfig = withoutInlineCache(structuredClone(image.config));
    config.config ??= {};
    if (!config.config.Env?.some((e) => e.startsWith('PATH='))) config.config.Env = setEnv(config.config.Env, 'PATH', DEFAULT_PATH);
    return { layers, config, history: [...(config.history ?? [])], args: new Map(), cmdSetHere: false, cacheKey: image.manifestDescriptor.digest, platform };
  }

  private async execute(state: StageState, raw: Command, announce: () => StepInfo, position: string, useCache: boolean, lastOfBuild: boolean): Promise<void> {
    this.checkBackground();
    const reporter = this.opts.reporter;
    const parentKey = state.cacheKey;
    // RUN's command line is the shell's to expand; only its --mount values are expanded here.
    const command = expandCommand(raw, expansionEnv(state));
    if (isConfigCommand(command)) {
      applyConfigCommand(state, command, this.opts.buildArgs ?? {});
      state.history.push({ created_by: `${command.original} # ribo`, empty_layer: true });
      // An ARG only declares a value; the steps that use it carry it in their own inputs,
      // so changing a build arg rebuilds just those (and what follows them).
      if (command.kind !== 'ARG') state.cacheKey = stepKey(state.cacheKey, configInputs(command));
      const info = announce();
      reporter.report({ type: 'step-start', time: Date.now(), ...info });
      reporter.report({ type: 'step-done', time: Date.now(), step: info.step, durationMs: 0 });
      return;
    }
    let step: LayerStep;
    if (command.kind === 'RUN') step = await this.runStep(state, command);
    else if (command.kind === 'COPY' || command.kind === 'ADD') step = await this.copyStep(state, command);
    else if (command.kind === 'WORKDIR') step = this.workdirStep(state, command.path, command);
    else throw new BuildStepError(`${(command as Command).kind} is not supported by this version of ribo.`, (command as Command).location);

    // A cached layer of another compression is a different blob: not a hit (gzip keys stay as they were).
    const compression = this.opts.compression ?? 'gzip';
    if (compression !== 'gzip') step.inputs = { ...step.inputs, compression };
    const key = stepKey(state.cacheKey, step.inputs);
    const release = await this.opts.shared?.claim(key);
    try {
      await this.layerStep(state, command, step, key, parentKey, announce, position, useCache, lastOfBuild);
    } finally {
      release?.();
    }
  }

  /**
   * A step that makes a layer: taken from the cache, or carried out and committed.
   * `lastOfBuild`: no step runs after this one, so a background commit would only add its diffID pass.
   */
  private async layerStep(state: StageState, command: Command, step: LayerStep, key: string, parentKey: string, announce: () => StepInfo, position: string, useCache: boolean, lastOfBuild: boolean): Promise<void> {
    const reporter = this.opts.reporter;
    const compression = this.opts.compression ?? 'gzip';
    // Another platform of this build made it already (even with --no-cache, a step shared by the targets runs once).
    const made = this.opts.shared?.produced.get(key);
    const cached = await this.reusable(made ?? (useCache ? await this.cache.lookup(key, this.opts.store, this.cacheImports) : undefined));
    if (cached) {
      this.usedSteps.set(key, cached.step);
      reporter.report({ type: 'step-cached', time: Date.now(), ...announce() });
      this.applyStep(state, cached.layerRef, cached.step.history);
      state.cacheKey = key;
      await this.cache.remember(position, parentKey, step.inputs);
      return;
    }
    if (this.opts.cachedOnly) throw new NeedsNamespaceError(`${position} is not cached`);
    const rebuildReason = this.opts.explain ? (useCache ? await this.cache.explain(position, parentKey, step.inputs) : this.opts.useCache === false ? '--no-cache' : '--no-cache-filter') : undefined;
    if (!this.opts.explain) await this.cache.remember(position, parentKey, step.inputs);
    const info = announce();
    const stepStarted = Date.now();
    reporter.report({ type: 'step-start', time: stepStarted, ...info, rebuildReason });
    const workDir = this.newWorkDir();
    try {
      const upper = await step.execute(workDir, info.step);
      const history: HistoryEntry = { created_by: step.createdBy };
      let layerRef: LayerRef | undefined;
      if (command.kind === 'WORKDIR' && (await readdir(upper)).length === 0) {
        history.empty_layer = true;
      } else {
        const onProgress = (bytes: number) => reporter.report({ type: 'step-progress', time: Date.now(), step: info.step, phase: 'committing', bytes });
        // Checking for the last layer costs a tar pass without compression: skipped where it was not made again last time.
        const last = await this.cache.lastLayer(position, step.inputs);
        const likely = last?.reproduced !== false ? last : undefined;
        const commitOptions = { sourceDateEpoch: this.opts.epoch, compression, onProgress, likely };
        const recordLayer = async (made: LayerBlob) => this.cache.recordLastLayer(position, step.inputs, last ? { ...made, reproduced: last.diffID === made.diffID } : made);
        // Not in a multi-platform build: a step the targets share is claimed until its blob is written (SharedBuildWork).
        const background = this.opts.driver.capabilities?.upperIsLowerDir && !this.opts.shared && !lastOfBuild ? await startCommit(this.opts.store, upper, commitOptions) : undefined;
        if (background) {
          // The next steps run over layers/<diffID>/ while the blob is written; the step is done (and cached) once it is.
          const layer: LayerRef = { descriptor: { mediaType: '', digest: background.diffID, size: 0 }, diffID: background.diffID, dir: background.dir };
          this.applyStep(state, layer, history);
          const resultKey = await this.resultKey(key, useCache, background.diffID);
          state.cacheKey = resultKey;
          this.inBackground(info.step, stepStarted, background.blob.then(async (made) => {
            layer.descriptor = made.descriptor;
            await recordLayer(made);
            await this.stepProduced(resultKey, { layer: made, history }, info.step, stepStarted);
          }));
          return;
        }
        layerRef = await commitUpperDir(this.opts.store, upper, { ...commitOptions, upperIsLowerDir: this.opts.driver.capabilities?.upperIsLowerDir ?? false });
        await recordLayer({ descriptor: layerRef.descriptor, diffID: layerRef.diffID });
      }
      this.applyStep(state, layerRef, history);
      const resultKey = await this.resultKey(key, useCache, layerRef?.diffID);
      state.cacheKey = resultKey;
      await this.stepProduced(resultKey, { layer: layerRef && { descriptor: layerRef.descriptor, diffID: layerRef.diffID }, history }, info.step, stepStarted);
    } catch (error) {
      const exitCode = error instanceof RunStepFailedError ? error.commandExitCode : undefined;
      reporter.report({ type: 'step-failed', time: Date.now(), step: info.step, durationMs: Date.now() - stepStarted, exitCode, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * The key a step that ran is kept under. A step of a --no-cache-filter
   * stage that made what the cache holds under its key keeps the key (the
   * steps that build on it, in the stages that use it too, stay cached);
   * when its layer differs, the key is made from that layer too, so what
   * builds on it runs again instead of reusing results of the old layer.
   */
  private async resultKey(key: string, useCache: boolean, diffID: Digest | undefined): Promise<string> {
    if (useCache || this.opts.useCache === false) return key;
    const before = await this.cache.lookup(key, this.opts.store);
    if (!before || before.layer?.diffID === diffID) return key;
    return stepKey(key, { rebuiltLayer: diffID ?? 'none' });
  }

  /** A step is done: its cache record is written (only now: the layer blob is in the store) and the step reported with its layer. */
  private async stepProduced(key: string, produced: CachedStep, step: number, stepStarted: number): Promise<void> {
    await this.cache.record(key, produced);
    this.usedSteps.set(key, produced);
    this.opts.shared?.produced.set(key, produced);
    this.opts.reporter.report({ type: 'step-done', time: Date.now(), step, durationMs: Date.now() - stepStarted, layer: produced.layer && { digest: produced.layer.descriptor.digest, size: produced.layer.descriptor.size } });
  }

  /** Keeps a step's background commit; its failure fails the step and, at the next step or at settled(), the build. */
  private inBackground(step: number, stepStarted: number, work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.opts.reporter.report({ type: 'step-failed', time: Date.now(), step, durationMs: Date.now() - stepStarted, message: error instanceof Error ? error.message : String(error) });
      this.backgroundFailure ??= { error };
    });
    this.background.push(tracked);
  }

  /** Throws the first background commit's failure, if one failed already. */
  private checkBackground(): void {
    if (this.backgroundFailure) throw this.backgroundFailure.error;
  }

  /** Waits for every background commit (so nothing is written after the build returns); throws the first failure. */
  async settled(): Promise<void> {
    while (this.background.length > 0) await Promise.all(this.background.splice(0));
    this.checkBackground();
  }

  /** A cache entry is usable while its layer blob is still in the store. */
  private async reusable(step: CachedStep | undefined): Promise<{ step: CachedStep; layerRef?: LayerRef } | undefined> {
    if (!step) return undefined;
    if (!step.layer) return { step };
    const { descriptor, diffID } = step.layer;
    if (!(await this.opts.store.hasBlob(descriptor.digest))) return undefined;
    if (this.opts.cachedOnly) return { step, layerRef: { descriptor, diffID, dir: '' } };
    const dir = await unpackLayerBlob(this.opts.store, { descriptor, diffID });
    return { step, layerRef: { descriptor, diffID, dir } };
  }

  private applyStep(state: StageState, layer: LayerRef | undefined, history: HistoryEntry): void {
    if (layer) {
      state.layers.push(layer);
      state.config.rootfs.diff_ids.push(layer.diffID);
    }
    state.history.push(history);
  }

  private newWorkDir(): string {
    this.step += 1;
    return path.join(this.workRoot, `step-${this.step}`);
  }

  private async runStep(state: StageState, command: RunCommand): Promise<LayerStep> {
    const config = state.config.config ?? {};
    const shell = config.Shell ?? DEFAULT_SHELL;
    const args = command.line.form === 'exec' ? command.line.args : [...shell, runScript(command)];
    if (args.length === 0) throw new BuildStepError('RUN needs a command.', command.location);
    if (command.security === 'insecure') throw new BuildStepError('RUN --security=insecure is not supported by ribo: a rootless build cannot give a step more privileges than its user namespace has. Remove the flag.', command.location);
    const env = runEnv(state);
    // RUN --network=default (or none given) takes the build's --network; ribo has no private build network.
    const network = !command.network || command.network === 'default' ? (this.opts.network ?? 'host') : command.network;
    checkContextUse(command, this.opts.contextDir !== undefined);
    const mounts = await planRunMounts({
      storeRoot: this.opts.store.root,
      contextDir: this.contextDir,
      isIgnored: this.isIgnored,
      contextDigests: this.contextDigests,
      workingDir: config.WorkingDir || '/',
      secrets: this.opts.secrets ?? new Map(),
      resolveFrom: (from) => this.copySource(from, command.location, state.platform),
      mountLayers: (layers, dir) => this.mountLayers(layers, dir),
      processEnv: this.opts.processEnv ?? process.env,
    }, command.mounts, command.location);
    const inputs: StepInputs = { run: JSON.stringify(args), user: config.User ?? '', workdir: config.WorkingDir ?? '', network, ...mounts.inputs };
    for (const entry of env) {
      const eq = entry.indexOf('=');
      const name = entry.slice(0, eq);
      inputs[state.args.has(name) && !config.Env?.some((e) => e.startsWith(`${name}=`)) ? `build arg ${name}` : `env ${name}`] = entry.slice(eq + 1);
    }
    return {
      inputs,
      createdBy: `RUN ${args.join(' ')} # ribo`,
      execute: async (workDir, step) => {
        if (state.platform && needsEmulation(state.platform)) await this.checkEmulation(state.platform, command);
        const stdio = { stdout: stepOutputStream(this.opts.reporter, step, 'stdout'), stderr: stepOutputStream(this.opts.reporter, step, 'stderr') };
        // commitUpperDir syncs the result once: the step's own syncs need not wait for the disk.
        const view = await this.opts.driver.prepare({ lowers: lowerDirs(state.layers), dir: workDir, volatile: true });
        let result;
        try {
          result = await mounts.around(workDir, view.rootfs, (mounted) => runContainer({
            runtime: this.opts.runtime,
            rootfs: view.rootfs,
            bundleDir: path.join(workDir, 'bundle'),
            stdio,
            mountTargets: mounted.targets,
            spec: { args, env: [...env, ...mounted.env], cwd: config.WorkingDir || '/', uid: 0, gid: 0, network, idCount: this.opts.idCount, hostname: 'ribo-build', mounts: mounted.mounts, capabilityDefaults: 'build' },
            prepare: async (rootfs) => {
              await createVolumeDirs(rootfs, config).catch((error: Error) => {
                throw new BuildStepError(error.message, command.location);
              });
              const user = await resolveUser(rootfs, config.User).catch((error: Error) => {
                throw new BuildStepError(error.message, command.location);
              });
              return { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
            },
          }));
        } finally {
          await view.release();
        }
        stdio.stdout.end();
        stdio.stderr.end();
        if (result.exitCode !== 0) throw new RunStepFailedError(args, result.exitCode, command.location);
        await dropRuntimeStubs(view.upper, result.runtimeStubs);
        return view.upper;
      },
    };
  }

  /** Before the first emulated RUN step of a platform: can binfmt_misc run it here? Checked once per platform. */
  private checkEmulation(platform: Platform, command: RunCommand): Promise<unknown> {
    const name = formatPlatform(platform);
    let check = this.emulationChecks.get(name);
    if (!check) {
      check = checkEmulation(platform, 'RUN steps').catch((error: Error) => {
        throw new BuildStepError(error.message, command.location, { cause: error });
      });
      this.emulationChecks.set(name, check);
    }
    return check;
  }

  private async copyStep(state: StageState, command: CopyCommand): Promise<LayerStep> {
    checkContextUse(command, this.opts.contextDir !== undefined);
    const from = command.from !== undefined ? await this.copySource(command.from, command.location, state.platform) : undefined;
    const planned = await planCopyStep({
      driver: this.opts.driver,
      contextDir: this.contextDir,
      isIgnored: this.isIgnored,
      layers: [...state.layers],
      workingDir: state.config.config?.WorkingDir || '/',
      from,
      mountLayers: (layers, dir) => this.mountLayers(layers, dir),
      scratchDir: this.workRoot,
      contextDigests: this.contextDigests,
      downloads: this.downloads,
      epoch: this.opts.epoch,
    }, command);
    return { ...planned, createdBy: `${command.original} # ribo` };
  }

  /** COPY --from: a stage of this Dockerfile (by name or index) or an image in the store (for the platform of the stage that copies). */
  private async copySource(from: string, location: SourceLocation, platform: Platform | undefined): Promise<{ layers: LayerRef[]; key: string }> {
    const stage = this.stages.find((s) => s.name === from.toLowerCase() || String(s.index) === from);
    if (stage) {
      const built = await this.buildStage(stage);
      return { layers: built.layers, key: built.cacheKey };
    }
    // A close stage name is a typo more likely than an image to pull (unless the store has that image).
    const meant = misspeltStage(from, this.stages);
    if (meant && !(await this.opts.store.resolveImage(from).then(() => true, () => false))) {
      throw new BuildStepError(
        `--from=${from}: no stage is named "${from}" and the store has no image of that name. Did you mean the stage "${meant.name}" (${where(meant.location)})? ` +
          `To copy from an image called ${from} in a registry, name it in full (e.g. docker.io/library/${from}).`,
        location,
      );
    }
    const image = await this.resolveImage(from, location, platform ?? hostPlatform());
    return { layers: await unpackImageLayers(this.opts.store, image.manifest, image.config, from), key: image.manifestDescriptor.digest };
  }

  /**
   * An image from the store for `platform`, pulled first when it is not there and a registry may have it.
   * A build for this machine that asked for no platform takes a single-platform image as it is (as before
   * multi-platform builds); otherwise the image must be for the platform.
   */
  private resolveImage(ref: string, location: SourceLocation, platform: Platform) {
    const wanted = this.opts.platform !== undefined || !samePlatform(platform, hostPlatform()) ? { platform } : {};
    return this.images.resolve(ref, location, { platform, wanted });
  }

  /** Mounts layers read-only-in-effect (changes are thrown away). */
  private async mountLayers(layers: LayerRef[], dir: string) {
    const view = await this.opts.driver.view(lowerDirs(layers), dir);
    return { dir: view.rootfs, isIgnored: undefined, unmount: () => view.release() };
  }

  /** WORKDIR creates the directory when missing, owned by the USER in force (as BuildKit does). */
  private workdirStep(state: StageState, dir: string, command: Command): LayerStep {
    const config = (state.config.config ??= {});
    const resolved = path.posix.resolve(config.WorkingDir || '/', dir);
    config.WorkingDir = resolved;
    const user = config.User ?? '';
    return {
      inputs: { workdir: resolved, ...(user ? { user } : {}) },
      createdBy: `${command.original} # ribo`,
      execute: (workDir) =>
        changeInView(this.opts.driver, { lowers: lowerDirs(state.layers), dir: workDir, volatile: true }, async (rootfs) => {
          const owner = await resolveUser(rootfs, user).catch((error: Error) => {
            throw new BuildStepError(`WORKDIR ${resolved} as USER ${user}: ${error.message}`, command.location);
          });
          await makeDirsInRoot(rootfs, resolved, owner, `WORKDIR ${resolved}`).catch((error: Error) => {
            throw error instanceof NotADirectoryInImageError ? new BuildStepError(error.message, command.location) : error;
          });
        }),
    };
  }
}

/** Inputs of a config-only step: the instruction as expanded. */
function configInputs(command: Command): StepInputs {
  const { location: _location, original: _original, ...fields } = command as Command & Record<string, unknown>;
  return { instruction: JSON.stringify(fields) };
}

/**
 * The script a shell-form RUN passes to the shell; a heredoc-only RUN runs the heredoc body.
 * Otherwise, as BuildKit does, the shell gets the command line followed by each heredoc's
 * body and delimiter, and reads them itself (`RUN <<EOF cat > /f` feeds the body to cat).
 */
function runScript(command: RunCommand): string {
  if (command.line.form !== 'shell') return '';
  const script = command.line.command;
  const only = command.heredocs.length === 1 ? command.heredocs[0]! : undefined;
  if (only && new RegExp(`^<<-?["']?${only.name}["']?\\s*$`).test(script.trim())) return only.content;
  return command.heredocs.reduce((text, h) => `${text}\n${h.content}${h.name}`, script);
}

async function writeImage(store: Store, state: StageState, epoch: number): Promise<{ manifest: Descriptor; config: ImageConfig }> {
  const created = new Date(epoch * 1000).toISOString();
  const config: ImageConfig = {
    ...state.config,
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
