/** What RUN, COPY/ADD and WORKDIR do to a stage: each made into a layer step, whose inputs decide whether the cache has it and whose execution leaves an upper dir to commit. */
import type { Rlimit } from '../runtime/rlimits.js';
import path from 'node:path';
import type { Command, CopyCommand, RunCommand, SourceLocation } from '../dockerfile/commands.js';
import { formatPlatform, type Platform } from '../dockerfile/index.js';
import { lowerDirs, type LayerRef } from '../image/layers.js';
import { runContainer } from '../runtime/container.js';
import { checkEmulation, needsEmulation } from '../runtime/emulation.js';
import { resolveUser } from '../runtime/users.js';
import { changeInView, dropRuntimeStubs, type Snapshotter } from '../snapshot/index.js';
import { makeDirsInRoot, NotADirectoryInImageError } from '../files/root-path.js';
import type { BuildOptions } from './build-options.js';
import type { StepInputs } from './cache/build-cache.js';
import type { DownloadCache } from './cache/download-cache.js';
import type { FileDigestCache } from './cache/file-digests.js';
import { createVolumeDirs } from './config-commands.js';
import { checkContextUse } from './context-and-platform.js';
import { planCopyStep } from './copy-step.js';
import { BuildStepError, RunStepFailedError } from './errors.js';
import { stepOutputStream } from './progress/step-output.js';
import { planRunMounts } from './run-mounts.js';
import { runEnv, type StageState } from './stage-state.js';

/** A layer-producing step made ready to run: its inputs decide whether the cache has it. */
export interface LayerStep {
  inputs: StepInputs;
  createdBy: string;
  /** Carries the step out (numbered `step` in the progress events); resolves with the upper dir holding its changes. */
  execute: (workDir: string, step: number) => Promise<string>;
}

/** What the steps need of the build they belong to. */
export interface StepContext {
  opts: BuildOptions;
  /** The build context (an empty stand-in when there is none). */
  contextDir: string;
  isIgnored: (rel: string) => boolean;
  contextDigests: FileDigestCache;
  /** The build's work dir, for scratch space. */
  workRoot: string;
  downloads: DownloadCache;
  emulation: EmulationChecks;
  /** COPY --from and RUN --mount from=: a stage of this Dockerfile or an image, for the platform of the stage that asks. */
  copySource: (from: string, location: SourceLocation, platform: Platform | undefined) => Promise<{ layers: LayerRef[]; key: string }>;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];

export async function runStep(ctx: StepContext, state: StageState, command: RunCommand): Promise<LayerStep> {
  const config = state.config.config ?? {};
  const shell = config.Shell ?? DEFAULT_SHELL;
  const args = command.line.form === 'exec' ? command.line.args : [...shell, runScript(command)];
  if (args.length === 0) throw new BuildStepError('RUN needs a command.', command.location);
  if (command.security === 'insecure') throw new BuildStepError('RUN --security=insecure is not supported by ribo: a rootless build cannot give a step more privileges than its user namespace has. Remove the flag.', command.location);
  const env = runEnv(state);
  // RUN --network=default (or none given) takes the build's --network; ribo has no private build network.
  const network = !command.network || command.network === 'default' ? (ctx.opts.network ?? 'host') : command.network;
  checkContextUse(command, ctx.opts.contextDir !== undefined);
  const mounts = await planRunMounts({
    storeRoot: ctx.opts.store.root,
    contextDir: ctx.contextDir,
    isIgnored: ctx.isIgnored,
    contextDigests: ctx.contextDigests,
    workingDir: config.WorkingDir || '/',
    secrets: ctx.opts.secrets ?? new Map(),
    sshAgents: ctx.opts.sshAgents ?? new Map(),
    resolveFrom: (from) => ctx.copySource(from, command.location, state.platform),
    mountLayers: (layers, dir) => mountLayers(ctx.opts.driver, layers, dir),
    processEnv: ctx.opts.processEnv ?? process.env,
  }, command.mounts, command.location);
  const inputs: StepInputs = { run: JSON.stringify(args), user: config.User ?? '', workdir: config.WorkingDir ?? '', network, ...mounts.inputs, ...limitInputs(ctx.opts) };
  for (const entry of env) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    inputs[state.args.has(name) && !config.Env?.some((e) => e.startsWith(`${name}=`)) ? `build arg ${name}` : `env ${name}`] = entry.slice(eq + 1);
  }
  return {
    inputs,
    createdBy: `RUN ${args.join(' ')} # ribo`,
    execute: async (workDir, step) => {
      if (state.platform && needsEmulation(state.platform)) await ctx.emulation.check(state.platform, command);
      const stdio = { stdout: stepOutputStream(ctx.opts.reporter, step, 'stdout'), stderr: stepOutputStream(ctx.opts.reporter, step, 'stderr') };
      // commitUpperDir syncs the result once: the step's own syncs need not wait for the disk.
      const view = await ctx.opts.driver.prepare({ lowers: lowerDirs(state.layers), dir: workDir, volatile: true });
      let result;
      try {
        result = await mounts.around(workDir, view.rootfs, (mounted) => runContainer({
          runtime: ctx.opts.runtime,
          rootfs: view.rootfs,
          bundleDir: path.join(workDir, 'bundle'),
          stdio,
          mountTargets: mounted.targets,
          spec: { args, env: [...env, ...sshEnv(env, mounts.sshAuthSock), ...mounted.env], cwd: config.WorkingDir || '/', uid: 0, gid: 0, network, idCount: ctx.opts.idCount, hostname: 'ribo-build', mounts: mounted.mounts, capabilityDefaults: 'build', ...(ctx.opts.rlimits?.length ? { rlimits: ctx.opts.rlimits } : {}), ...(ctx.opts.shmSize !== undefined ? { shmSize: ctx.opts.shmSize } : {}), ...(ctx.opts.addHosts?.length ? { addHosts: ctx.opts.addHosts } : {}) },
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

/** binfmt_misc checks by platform: made once per build, before the first RUN step to emulate. */
export class EmulationChecks {
  private readonly checks = new Map<string, Promise<unknown>>();

  /** Before the first emulated RUN step of a platform: can binfmt_misc run it here? Checked once per platform. */
  check(platform: Platform, command: RunCommand): Promise<unknown> {
    const name = formatPlatform(platform);
    let check = this.checks.get(name);
    if (!check) {
      check = checkEmulation(platform, 'RUN steps').catch((error: Error) => {
        throw new BuildStepError(error.message, command.location, { cause: error });
      });
      this.checks.set(name, check);
    }
    return check;
  }
}

export async function copyStep(ctx: StepContext, state: StageState, command: CopyCommand): Promise<LayerStep> {
  checkContextUse(command, ctx.opts.contextDir !== undefined);
  const from = command.from !== undefined ? await ctx.copySource(command.from, command.location, state.platform) : undefined;
  const planned = await planCopyStep({
    driver: ctx.opts.driver,
    contextDir: ctx.contextDir,
    isIgnored: ctx.isIgnored,
    layers: [...state.layers],
    workingDir: state.config.config?.WorkingDir || '/',
    from,
    mountLayers: (layers, dir) => mountLayers(ctx.opts.driver, layers, dir),
    scratchDir: ctx.workRoot,
    contextDigests: ctx.contextDigests,
    downloads: ctx.downloads,
    epoch: ctx.opts.epoch,
  }, command);
  return { ...planned, createdBy: `${command.original} # ribo` };
}


/** WORKDIR creates the directory when missing, owned by the USER in force (as BuildKit does). */
export function workdirStep(ctx: StepContext, state: StageState, dir: string, command: Command): LayerStep {
  const config = (state.config.config ??= {});
  const resolved = path.posix.resolve(config.WorkingDir || '/', dir);
  config.WorkingDir = resolved;
  const user = config.User ?? '';
  return {
    inputs: { workdir: resolved, ...(user ? { user } : {}) },
    createdBy: `${command.original} # ribo`,
    execute: (workDir) =>
      changeInView(ctx.opts.driver, { lowers: lowerDirs(state.layers), dir: workDir, volatile: true }, async (rootfs) => {
        const owner = await resolveUser(rootfs, user).catch((error: Error) => {
          throw new BuildStepError(`WORKDIR ${resolved} as USER ${user}: ${error.message}`, command.location);
        });
        await makeDirsInRoot(rootfs, resolved, owner, `WORKDIR ${resolved}`).catch((error: Error) => {
          throw error instanceof NotADirectoryInImageError ? new BuildStepError(error.message, command.location) : error;
        });
      }),
  };
}

/** Mounts layers read-only-in-effect (changes are thrown away). */
async function mountLayers(driver: Snapshotter, layers: LayerRef[], dir: string) {
  const view = await driver.view(lowerDirs(layers), dir);
  return { dir: view.rootfs, isIgnored: undefined, unmount: () => view.release() };
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

/** SSH_AUTH_SOCK for a RUN with an ssh mount, unless its environment has one (BuildKit's rule). */
function sshEnv(env: string[], socket: string | undefined): string[] {
  return socket && !env.some((entry) => entry.startsWith('SSH_AUTH_SOCK=')) ? [`SSH_AUTH_SOCK=${socket}`] : [];
}

/** --ulimit, --shm-size and --add-host in a RUN step's key, as BuildKit's exec op holds them; nothing when not given, so other keys stay. */
function limitInputs(opts: { rlimits?: Rlimit[]; shmSize?: number; addHosts?: Array<{ name: string; ip: string }> }): StepInputs {
  return {
    ...(opts.rlimits?.length ? { ulimit: JSON.stringify(opts.rlimits) } : {}),
    ...(opts.shmSize !== undefined ? { 'shm-size': String(opts.shmSize) } : {}),
    ...(opts.addHosts?.length ? { 'add-host': JSON.stringify(opts.addHosts) } : {}),
  };
}
