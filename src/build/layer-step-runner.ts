/** A layer step's result: taken from the cache (or from another platform of the same build), or carried out and committed as a layer, in the background where the driver allows; what it made is recorded in the cache. */
import { readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Command } from '../dockerfile/commands.js';
import type { Digest, HistoryEntry } from '../oci/image.js';
import type { LayerRef } from '../image/layers.js';
import { adoptUpperDir, unpackLayerBlob } from '../snapshot/index.js';
import { BackgroundCommits } from './background-commits.js';
import { NeedsNamespaceError, type BuildOptions } from './build-options.js';
import { stepKey, type BuildCache, type CacheImport, type CachedStep } from './cache/build-cache.js';
import { commitUpperDir, startCommit, type LayerBlob } from './commit.js';
import { RunStepFailedError } from './errors.js';
import type { LayerStep } from './layer-steps.js';
import type { StepInfo } from './progress/events.js';
import type { StageState } from './stage-state.js';

/** What a layer committed in the background has as its digests until its blob is written. */
const NOT_YET_KNOWN: Digest = `sha256:${'0'.repeat(64)}`;

export class LayerStepRunner {
  /** Every layer step of this build by key, reused or run: what --cache-to exports. */
  readonly usedSteps = new Map<string, CachedStep>();
  private readonly background: BackgroundCommits;
  /** Layers committed in the background whose trees are still pending dirs in layers/ (commit.ts, startCommit). */
  private readonly pendingTrees: Array<{ layer: LayerRef; made: Promise<LayerBlob> }> = [];
  /** Layer steps carried out so far: each gets a work dir of its own. */
  private step = 0;
  private readonly buildTag = randomBytes(4).toString('hex');

  constructor(
    private readonly opts: BuildOptions,
    private readonly cache: BuildCache,
    /** Where else cached steps may come from (--cache-from). */
    private readonly cacheImports: CacheImport[],
    private readonly workRoot: string,
  ) {
    this.background = new BackgroundCommits(opts.reporter);
  }

  /** Throws the first background commit's failure, if one failed already: called before each step. */
  checkBackground(): void {
    this.background.check();
  }

  /**
   * Waits for every background commit (so nothing is written after the build
   * returns), then gives each pending tree its layer dir's name (no step runs
   * over it any more) or, where its commit failed, removes it; throws the
   * first failure.
   */
  async settled(): Promise<void> {
    try {
      await this.background.settled();
    } finally {
      for (const { layer, made } of this.pendingTrees.splice(0)) {
        if (await made.then(() => true, () => false)) layer.dir = await adoptUpperDir(this.opts.store, layer.diffID, layer.dir);
        else await rm(layer.dir, { recursive: true, force: true });
      }
    }
  }

  /**
   * A step that makes a layer: taken from the cache, or carried out and committed.
   * `lastOfBuild`: no step runs after this one, so a background commit would only add its diffID pass.
   */
  async run(state: StageState, command: Command, step: LayerStep, key: string, parentKey: string, announce: () => StepInfo, position: string, useCache: boolean, lastOfBuild: boolean): Promise<void> {
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
          // The next steps run over the pending tree while its layer is made; the step is done (and cached) once the blob is written.
          // Its diffID and descriptor are filled in then; the image's diff_ids are taken from the layers at the end (builder.ts).
          const layer: LayerRef = { descriptor: { mediaType: '', digest: NOT_YET_KNOWN, size: 0 }, diffID: NOT_YET_KNOWN, dir: background.dir };
          this.applyStep(state, layer, history);
          this.pendingTrees.push({ layer, made: background.blob });
          const resultKey = await this.resultKey(key, useCache, async () => (await background.blob).diffID);
          state.cacheKey = resultKey;
          this.background.add(info.step, stepStarted, background.blob.then(async (made) => {
            layer.descriptor = made.descriptor;
            layer.diffID = made.diffID;
            await recordLayer(made);
            await this.stepProduced(resultKey, { layer: made, history }, info.step, stepStarted);
          }));
          return;
        }
        layerRef = await commitUpperDir(this.opts.store, upper, { ...commitOptions, upperIsLowerDir: this.opts.driver.capabilities?.upperIsLowerDir ?? false });
        await recordLayer({ descriptor: layerRef.descriptor, diffID: layerRef.diffID });
      }
      this.applyStep(state, layerRef, history);
      const resultKey = await this.resultKey(key, useCache, async () => layerRef?.diffID);
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
  private async resultKey(key: string, useCache: boolean, layerDiffID: () => Promise<Digest | undefined>): Promise<string> {
    if (useCache || this.opts.useCache === false) return key;
    const diffID = await layerDiffID();
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

  /** A cache entry is usable while its layer blob is still in the store. */
  private async reusable(step: CachedStep | undefined): Promise<{ step: CachedStep; layerRef?: LayerRef } | undefined> {
    if (!step) return undefined;
    if (!step.layer) return { step };
    const { descriptor, diffID } = step.layer;
    if (!(await this.opts.store.hasBlob(descriptor.digest))) return undefined;
    if (this.opts.cachedOnly) return { step, layerRef: { descriptor, diffID, dir: '' } };
    // A tree this build made and has not yet named (its pending dir) serves as well as layers/<diffID>/.
    const pending = this.pendingTrees.find(({ layer }) => layer.diffID === diffID);
    if (pending) return { step, layerRef: pending.layer };
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
    // A name no earlier build used: ext4 places a top dir's children by their names' hash (files/spread-dirs.ts).
    return path.join(this.workRoot, `step-${this.step}-${this.buildTag}`);
  }
}
