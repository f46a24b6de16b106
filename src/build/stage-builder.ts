/** One build's stages: each built once, from its base (scratch, another stage, an image) through its steps, config-only ones applied here and layer steps handed to LayerStepRunner. */
import path from 'node:path';
import type { Command, SourceLocation, Stage } from '../dockerfile/commands.js';
import { expandCommand, formatPlatform, hostPlatform, samePlatform, type Platform } from '../dockerfile/index.js';
import type { ImageConfig } from '../oci/image.js';
import { imageLayerRefs, unpackImageLayers, type LayerRef } from '../image/layers.js';
import { setEnv } from '../image/env.js';
import { DEFAULT_PATH } from '../image/platform.js';
import type { BuildOptions } from './build-options.js';
import { stepKey, type BuildCache, type CachedStep, type StepInputs } from './cache/build-cache.js';
import { CacheDir } from './cache/cache-dir.js';
import { DownloadCache } from './cache/download-cache.js';
import type { FileDigestCache } from './cache/file-digests.js';
import { ImageCache, withoutInlineCache } from './cache/image-cache.js';
import { applyConfigCommand, isConfigCommand } from './config-commands.js';
import { BuildStepError, where } from './errors.js';
import { ImageSources, misspeltStage, stageIndexes } from './image-sources.js';
import { LayerStepRunner } from './layer-step-runner.js';
import { copyStep, EmulationChecks, runStep, workdirStep, type LayerStep, type StepContext } from './layer-steps.js';
import { onbuildCommands } from './onbuild.js';
import type { StepInfo } from './progress/events.js';
import { expansionEnv, scratchState, type StageState } from './stage-state.js';

export class StageBuilder {
  private readonly stageBuilds = new Map<number, Promise<StageState>>();
  private readonly images: ImageSources;
  /** The indexes of the stages --no-cache-filter names. */
  private readonly noCacheStages: Set<number>;
  /** Steps announced so far: the number progress events give a step. */
  private announced = 0;
  private readonly steps: LayerStepRunner;
  private readonly stepContext: StepContext;

  constructor(
    private readonly opts: BuildOptions,
    private readonly stages: Stage[],
    /** The platform each stage builds for. */
    private readonly platforms: Platform[],
    workRoot: string,
    contextDir: string,
    isIgnored: (rel: string) => boolean,
    cache: BuildCache,
    contextDigests: FileDigestCache,
    /** The stage the image is made of: after its last layer step nothing of the build runs but the image's own files. */
    private readonly targetStage: number,
  ) {
    const downloads = new DownloadCache(path.join(opts.store.root, 'cache', 'downloads'), opts.useCache ?? true);
    this.noCacheStages = stageIndexes(opts.noCacheStages ?? [], stages);
    this.images = new ImageSources({ store: opts.store, ...(opts.pullImage ? { pullImage: opts.pullImage } : {}), pull: opts.pull === true });
    const imageCaches = (opts.cacheFromImages ?? []).map((ref) => new ImageCache(
      () => this.images.resolveForFlag(ref, '--cache-from'),
      () => opts.reporter.report({ type: 'warning', time: Date.now(), message: `--cache-from ${ref}: the image carries no build cache; build it with --cache-to type=inline (or --build-arg BUILDKIT_INLINE_CACHE=1) to reuse its steps.` }),
    ));
    const cacheImports = [...(opts.cacheFrom ?? []).map((dir) => new CacheDir(dir)), ...(opts.cacheImports ?? []), ...imageCaches];
    this.steps = new LayerStepRunner(opts, cache, cacheImports, workRoot);
    this.stepContext = {
      opts, contextDir, isIgnored, contextDigests, workRoot, downloads,
      emulation: new EmulationChecks(),
      copySource: (from, location, platform) => this.copySource(from, location, platform),
    };
  }

  /** Every layer step of this build by key, reused or run: what --cache-to exports. */
  get usedSteps(): Map<string, CachedStep> {
    return this.steps.usedSteps;
  }

  /** Waits for every background commit (so nothing is written after the build returns); throws the first failure. */
  settled(): Promise<void> {
    return this.steps.settled();
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
    this.steps.checkBackground();
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
    if (command.kind === 'RUN') step = await runStep(this.stepContext, state, command);
    else if (command.kind === 'COPY' || command.kind === 'ADD') step = await copyStep(this.stepContext, state, command);
    else if (command.kind === 'WORKDIR') step = workdirStep(this.stepContext, state, command.path, command);
    else throw new BuildStepError(`${(command as Command).kind} is not supported by this version of ribo.`, (command as Command).location);

    // A cached layer of another compression is a different blob: not a hit (gzip keys stay as they were).
    const compression = this.opts.compression ?? 'gzip';
    if (compression !== 'gzip') step.inputs = { ...step.inputs, compression };
    const key = stepKey(state.cacheKey, step.inputs);
    const release = await this.opts.shared?.claim(key);
    try {
      await this.steps.run(state, command, step, key, parentKey, announce, position, useCache, lastOfBuild);
    } finally {
      release?.();
    }
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
}


/** Inputs of a config-only step: the instruction as expanded. */
function configInputs(command: Command): StepInputs {
  const { location: _location, original: _original, ...fields } = command as Command & Record<string, unknown>;
  return { instruction: JSON.stringify(fields) };
}
