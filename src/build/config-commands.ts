import type { CmdCommand, Command } from '../dockerfile/commands.js';
import { envToMap, mapToEnv } from '../image/env.js';
import type { ImageConfig } from '../oci/image.js';
import { makeDirsInRoot, NotADirectoryInImageError } from '../files/root-path.js';
import type { StageState } from './stage-state.js';
import { assertConfigLimits } from '../store/index.js';
import { BuildStepError } from './errors.js';

/** Instructions that only change the image config and add no layer. */
const CONFIG_KINDS = new Set(['ENV', 'ARG', 'LABEL', 'USER', 'CMD', 'ENTRYPOINT', 'SHELL', 'EXPOSE', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER']);

export function isConfigCommand(command: Command): boolean {
  return CONFIG_KINDS.has(command.kind);
}

/** CMD and ENTRYPOINT in shell form run through the stage's SHELL, as Docker stores them. */
function commandLine(state: StageState, command: CmdCommand): string[] {
  if (command.line.form === 'exec') return command.line.args;
  return [...(state.config.config?.Shell ?? ['/bin/sh', '-c']), command.line.command];
}

/** An ENV or LABEL that takes the stage's config beyond the limits the store holds every image to. */
function assertBuiltConfigLimits(config: NonNullable<ImageConfig['config']>, command: Command): void {
  try {
    assertConfigLimits({ config }, command.kind);
  } catch (error) {
    throw new BuildStepError((error as Error).message, command.location);
  }
}

/** Applies one config-only instruction (already expanded) to the stage's image config. */
export function applyConfigCommand(state: StageState, command: Command, buildArgs: Record<string, string>): void {
  const config = (state.config.config ??= {});
  switch (command.kind) {
    case 'ENV': {
      // One map for all the pairs: an ENV of thousands of pairs stays linear.
      const env = envToMap(config.Env);
      for (const { key, value } of command.pairs) env.set(key, value);
      config.Env = mapToEnv(env);
      assertBuiltConfigLimits(config, command);
      return;
    }
    case 'ARG':
      for (const { key, value } of command.args) {
        const given = Object.prototype.hasOwnProperty.call(buildArgs, key) ? buildArgs[key] : undefined;
        const resolved = given ?? value ?? state.args.get(key);
        if (resolved !== undefined) state.args.set(key, resolved);
      }
      return;
    case 'LABEL':
      config.Labels = { ...(config.Labels ?? {}) };
      for (const { key, value } of command.pairs) config.Labels[key] = value;
      assertBuiltConfigLimits(config, command);
      return;
    case 'USER':
      config.User = command.user;
      return;
    case 'CMD':
      config.Cmd = commandLine(state, command);
      state.cmdSetHere = true;
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandLine(state, command);
      // An ENTRYPOINT set here makes an inherited CMD meaningless; Docker drops it.
      if (!state.cmdSetHere) config.Cmd = null;
      return;
    case 'SHELL':
      config.Shell = command.shell;
      return;
    case 'EXPOSE':
      config.ExposedPorts = { ...(config.ExposedPorts ?? {}) };
      for (const port of command.ports) config.ExposedPorts[port.includes('/') ? port : `${port}/tcp`] = {};
      return;
    case 'VOLUME':
      config.Volumes = { ...(config.Volumes ?? {}) };
      for (const volume of command.paths) config.Volumes[volume] = {};
      return;
    case 'STOPSIGNAL':
      config.StopSignal = command.signal;
      return;
    case 'HEALTHCHECK':
      config.Healthcheck = {
        Test: command.test,
        Interval: command.interval,
        Timeout: command.timeout,
        StartPeriod: command.startPeriod,
        StartInterval: command.startInterval,
        Retries: command.retries,
      };
      return;
    case 'ONBUILD':
      config.OnBuild = [...(config.OnBuild ?? []), command.expression];
      return;
    case 'MAINTAINER':
      state.config.author = command.maintainer;
      return;
    default:
      return;
  }
}

/**
 * Creates the stage's VOLUME directories that are missing in a RUN step's root, before
 * its command runs, as Docker creates the mount points of a build container: symlinks
 * on the way resolve inside the root (a VOLUME under a link to a missing directory
 * creates that directory), and the directories land in the RUN's layer. VOLUME itself
 * only changes the config and adds no layer, as with BuildKit.
 */
export async function createVolumeDirs(rootfs: string, config: ImageConfig['config']): Promise<void> {
  for (const volume of Object.keys(config?.Volumes ?? {})) {
    // A volume over a file (or below one) is left alone: BuildKit never touches the path.
    await makeDirsInRoot(rootfs, volume, { uid: 0, gid: 0 }, `VOLUME ${volume}`).catch((error: unknown) => {
      if (!(error instanceof NotADirectoryInImageError)) throw error;
    });
  }
}
