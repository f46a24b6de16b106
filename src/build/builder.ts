import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command, CopyCommand, RunCommand, Stage } from '../dockerfile/commands.js';
import { expandCommand, loadDockerfile, loadIgnoreMatcher, toStages } from '../dockerfile/index.js';
import type { Descriptor, ImageConfig, ImageManifest } from '../oci/image.js';
import { MediaType } from '../oci/image.js';
import { unpackImageLayers, lowerDirs } from '../image/layers.js';
import { setEnv } from '../image/env.js';
import { DEFAULT_PATH } from '../image/platform.js';
import { changeLayers, runContainer } from '../runtime/container.js';
import type { MountDriver } from '../runtime/overlay.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { resolveUser } from '../runtime/users.js';
import type { Store } from '../store/index.js';
import { commitUpperDir } from './commit.js';
import { copyFromContext } from './copy.js';
import { BuildStepError, RunStepFailedError } from './errors.js';
import { resolveInRoot } from './root-path.js';
import { expansionEnv, runEnv, scratchState, type StageState } from './stage-state.js';
import { applyConfigCommand, isConfigCommand } from './config-commands.js';

export interface BuildOptions {
  store: Store;
  driver: MountDriver;
  runtime: OciRuntime;
  /** Ids usable in ribo's namespace (container user namespaces map that many). */
  idCount: number;
  contextDir: string;
  dockerfile: string;
  tags: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  /** Progress lines and the output of RUN steps. */
  out: NodeJS.WritableStream;
  sourceDateEpoch?: number;
}

export interface BuildResult {
  manifest: Descriptor;
  config: ImageConfig;
  tags: string[];
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** Builds the Dockerfile's target stage into an image in the store and tags it. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const parsed = await loadDockerfile(opts.dockerfile);
  const { stages, warnings } = toStages(parsed, { buildArgs: opts.buildArgs ?? {}, target: opts.target });
  for (const warning of [...parsed.warnings, ...warnings]) {
    const at = warning.location ? ` (${warning.location.file}:${warning.location.startLine})` : '';
    opts.out.write(`WARNING: ${warning.rule}: ${warning.message}${at}\n`);
  }
  if (stages.length === 0) throw new BuildStepError('the Dockerfile has no FROM instruction, so there is nothing to build.', { file: opts.dockerfile, startLine: 1, endLine: 1 });
  const target = selectTarget(stages, opts.target, opts.dockerfile);
  const isIgnored = await loadIgnoreMatcher(opts.contextDir, opts.dockerfile);
  const workRoot = await opts.store.makeTempDir('build-');
  const builder = new StageBuilder(opts, workRoot, (rel: string) => isIgnored(rel));
  try {
    const state = await builder.buildStage(stages, target);
    const result = await writeImage(opts.store, state, opts.sourceDateEpoch);
    for (const tag of opts.tags) await opts.store.tag(tag, result.manifest);
    return { ...result, tags: opts.tags };
  } finally {
    await rm(workRoot, { recursive: true, force: true });
  }
}

function selectTarget(stages: Stage[], target: string | undefined, file: string): Stage {
  if (target === undefined) return stages[stages.length - 1]!;
  const found = stages.find((s) => s.name === target.toLowerCase());
  if (!found) {
    const names = stages.map((s) => s.name).filter(Boolean);
    throw new BuildStepError(`--target ${target}: no stage of that name; the stages named in the Dockerfile are: ${names.join(', ') || '(none)'}.`, { file, startLine: 1, endLine: 1 });
  }
  return found;
}

class StageBuilder {
  private readonly built = new Map<number, StageState>();
  private step = 0;

  constructor(private readonly opts: BuildOptions, private readonly workRoot: string, private readonly isIgnored: (rel: string) => boolean) {}

  private log(line: string): void {
    this.opts.out.write(`${line}\n`);
  }

  async buildStage(stages: Stage[], stage: Stage): Promise<StageState> {
    const done = this.built.get(stage.index);
    if (done) return done;
    const state = await this.baseState(stages, stage);
    const label = stage.name ?? `stage-${stage.index}`;
    for (const [i, command] of stage.commands.entries()) {
      this.log(`[${label} ${i + 1}/${stage.commands.length}] ${command.original}`);
      await this.execute(stages, state, command);
    }
    this.built.set(stage.index, state);
    return state;
  }

  private async baseState(stages: Stage[], stage: Stage): Promise<StageState> {
    const base = stage.base;
    if (base.kind === 'scratch') {
      const state = scratchState();
      state.config.config = { Env: [`PATH=${DEFAULT_PATH}`] };
      return state;
    }
    if (base.kind === 'stage') {
      const parent = await this.buildStage(stages, stages[base.index]!);
      return { ...structuredClone({ config: parent.config, history: parent.history }), layers: [...parent.layers], args: new Map(), cmdSetHere: false };
    }
    this.log(`[${stage.name ?? `stage-${stage.index}`}] FROM ${base.ref}`);
    const image = await this.opts.store.resolveImage(base.ref);
    const layers = await unpackImageLayers(this.opts.store, image.manifest, image.config, base.ref);
    const config: ImageConfig = structuredClone(image.config);
    config.config ??= {};
    if (!config.config.Env?.some((e) => e.startsWith('PATH='))) config.config.Env = setEnv(config.config.Env, 'PATH', DEFAULT_PATH);
    return { layers, config, history: [...(config.history ?? [])], args: new Map(), cmdSetHere: false };
  }

  private async execute(stages: Stage[], state: StageState, raw: Command): Promise<void> {
    const command = raw.kind === 'RUN' ? raw : expandCommand(raw, expansionEnv(state));
    if (command.kind === 'RUN') return this.run(state, command);
    if (command.kind === 'COPY' || command.kind === 'ADD') return this.copy(stages, state, command);
    if (command.kind === 'WORKDIR') return this.workdir(state, command.path, command);
    if (isConfigCommand(command)) {
      applyConfigCommand(state, command, this.opts.buildArgs ?? {});
      state.history.push({ created_by: `${command.original} # ribo`, empty_layer: true });
      return;
    }
    throw new BuildStepError(`${(command as Command).kind} is not supported by this version of ribo.`, (command as Command).location);
  }

  private newWorkDir(): string {
    this.step += 1;
    return path.join(this.workRoot, `step-${this.step}`);
  }

  private async addLayer(state: StageState, upper: string, createdBy: string): Promise<void> {
    const layer = await commitUpperDir(this.opts.store, this.opts.driver, upper, { sourceDateEpoch: this.opts.sourceDateEpoch });
    state.layers.push(layer);
    state.config.rootfs.diff_ids.push(layer.diffID);
    state.history.push({ created_by: createdBy });
  }

  private async run(state: StageState, command: RunCommand): Promise<void> {
    const shell = state.config.config?.Shell ?? DEFAULT_SHELL;
    const args = command.line.form === 'exec' ? command.line.args : [...shell, runScript(command)];
    if (args.length === 0) throw new BuildStepError('RUN needs a command.', command.location);
    const workDir = this.newWorkDir();
    const containerConfig = state.config.config ?? {};
    const result = await runContainer({
      driver: this.opts.driver,
      runtime: this.opts.runtime,
      lowers: lowerDirs(state.layers),
      workDir,
      stdio: { stdout: this.opts.out, stderr: this.opts.out },
      spec: { args, env: runEnv(state), cwd: containerConfig.WorkingDir || '/', uid: 0, gid: 0, network: command.network === 'none' ? 'none' : 'host', idCount: this.opts.idCount, hostname: 'ribo-build' },
      prepare: async (rootfs) => {
        const user = await resolveUser(rootfs, containerConfig.User).catch((error: Error) => {
          throw new BuildStepError(error.message, command.location);
        });
        return { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
      },
    });
    if (result.exitCode !== 0) {
      await rm(workDir, { recursive: true, force: true });
      throw new RunStepFailedError(args, result.exitCode, command.location);
    }
    await this.addLayer(state, result.upperDir, `RUN ${args.join(' ')} # ribo`);
    await rm(workDir, { recursive: true, force: true });
  }

  private async copy(stages: Stage[], state: StageState, command: CopyCommand): Promise<void> {
    if (command.kind === 'ADD' && command.sources.some((s) => /^(https?|git):\/\//.test(s) || /\.(tar|tgz|tar\.gz|tar\.xz|tar\.bz2|tar\.zst)$/.test(s))) {
      throw new BuildStepError('ADD of URLs and of local archives (which ADD would unpack) is not supported by this version of ribo; use COPY for plain files, or RUN with curl and tar.', command.location);
    }
    const workDir = this.newWorkDir();
    const dest = path.posix.isAbsolute(command.dest) ? command.dest : path.posix.join(state.config.config?.WorkingDir || '/', command.dest) + (command.dest.endsWith('/') || command.dest === '.' ? '/' : '');
    let source = { contextDir: this.opts.contextDir, isIgnored: this.isIgnored as ((rel: string) => boolean) | undefined, cleanup: async () => {} };
    if (command.from !== undefined) source = await this.mountCopySource(stages, command, workDir);
    try {
      const upper = await changeLayers(this.opts.driver, lowerDirs(state.layers), workDir, async (rootfs) => {
        const owner = command.chown ? await resolveUser(rootfs, command.chown).catch((error: Error) => {
          throw new BuildStepError(`--chown=${command.chown}: ${error.message}`, command.location);
        }) : { uid: 0, gid: 0 };
        await copyFromContext({ contextDir: source.contextDir, sources: command.sources, dest, rootfs, owner, isIgnored: source.isIgnored }).catch((error: Error) => {
          throw error instanceof BuildStepError ? error : new BuildStepError(error.message, command.location, { cause: error });
        });
      });
      await this.addLayer(state, upper, `${command.original} # ribo`);
    } finally {
      await source.cleanup();
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /** COPY --from: mount the other stage's (or image's) layers read-only and copy from there. */
  private async mountCopySource(stages: Stage[], command: CopyCommand, workDir: string) {
    const from = command.from!;
    const byName = stages.find((s) => s.name === from.toLowerCase() || String(s.index) === from);
    let layers;
    if (byName) layers = (await this.buildStage(stages, byName)).layers;
    else {
      const image = await this.opts.store.resolveImage(from);
      layers = await unpackImageLayers(this.opts.store, image.manifest, image.config, from);
    }
    const sourceDir = path.join(workDir, 'from');
    const dirs = { lowers: lowerDirs(layers), upper: path.join(sourceDir, 'upper'), work: path.join(sourceDir, 'work'), target: path.join(sourceDir, 'rootfs') };
    for (const d of [dirs.upper, dirs.work, dirs.target]) await mkdir(d, { recursive: true });
    await this.opts.driver.mount(dirs);
    return { contextDir: dirs.target, isIgnored: undefined, cleanup: () => this.opts.driver.unmount(dirs.target) };
  }

  private async workdir(state: StageState, dir: string, command: Command): Promise<void> {
    const config = (state.config.config ??= {});
    const resolved = path.posix.resolve(config.WorkingDir || '/', dir);
    config.WorkingDir = resolved;
    const workDir = this.newWorkDir();
    try {
      const upper = await changeLayers(this.opts.driver, lowerDirs(state.layers), workDir, async (rootfs) => {
        const host = await resolveInRoot(rootfs, resolved);
        await mkdir(host, { recursive: true, mode: 0o755 });
      });
      if ((await readdir(upper)).length === 0) {
        state.history.push({ created_by: `${command.original} # ribo`, empty_layer: true });
        await rm(upper, { recursive: true, force: true });
      } else {
        await this.addLayer(state, upper, `${command.original} # ribo`);
      }
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

/** The script a shell-form RUN passes to the shell; a heredoc-only RUN runs the heredoc body. */
function runScript(command: RunCommand): string {
  if (command.line.form !== 'shell') return '';
  const script = command.line.command;
  const only = command.heredocs.length === 1 ? command.heredocs[0]! : undefined;
  if (only && new RegExp(`^<<-?["']?${only.name}["']?\\s*$`).test(script.trim())) return only.content;
  return script;
}

async function writeImage(store: Store, state: StageState, sourceDateEpoch: number | undefined): Promise<{ manifest: Descriptor; config: ImageConfig }> {
  const created = new Date(sourceDateEpoch !== undefined ? sourceDateEpoch * 1000 : Date.now()).toISOString();
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
