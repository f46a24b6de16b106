import { rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { unpackImageLayers, lowerDirs } from '../image/layers.js';
import { envToMap, mapToEnv } from '../image/env.js';
import { DEFAULT_PATH } from '../image/platform.js';
import { storeRefFor } from '../image/transport-ref.js';
import { runContainer } from '../runtime/container.js';
import { findExecutable } from '../runtime/executables.js';
import type { LinuxResources } from '../oci/runtime-spec.js';
import type { ContainerStdio } from '../runtime/oci-runtime.js';
import type { RunSpec } from './run-options.js';
import type { MountDriver } from '../runtime/overlay.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { resolveUser } from '../runtime/users.js';
import type { Store } from '../store/index.js';
import { RiboError } from '../errors.js';

export interface RunImageOptions {
  store: Store;
  driver: MountDriver;
  runtime: OciRuntime;
  idCount: number;
  image: string;
  /** Replaces the image's CMD when non-empty. */
  command: string[];
  remove: boolean;
  /** What the flags asked for (run-options.ts). */
  spec: RunSpec;
  /** The cgroup limits the host lets ribo enforce (cgroups.ts), not necessarily all of spec.resources. */
  resources?: LinuxResources;
  /** The caller's terminal streams by default; stdin only with -i or -t. */
  stdio?: ContainerStdio;
}

export class NothingToRunError extends RiboError {}

/** The static tini that --init runs as PID 1 (Debian's tini package). */
async function findInit(): Promise<string> {
  const init = await findExecutable('tini-static');
  if (!init) throw new RiboError('--init needs a static tini on the host, which is not installed. Install it (as root: apt-get install tini) or leave out --init.');
  return init;
}

/** The process Docker would start: ENTRYPOINT + (given command or CMD). */
export function containerArgs(entrypoint: string[] | null | undefined, cmd: string[] | null | undefined, command: string[]): string[] {
  return [...(entrypoint ?? []), ...(command.length > 0 ? command : cmd ?? [])];
}

/**
 * Runs an image over a throwaway writable layer and returns the container's
 * exit code. The container's directory is kept under the store's containers/
 * unless `remove` is set.
 */
export async function runImage(opts: RunImageOptions): Promise<number> {
  const image = await opts.store.resolveImage(await storeRefFor(opts.store, opts.image));
  const layers = await unpackImageLayers(opts.store, image.manifest, image.config, opts.image);
  const config = image.config.config ?? {};
  const spec = opts.spec;
  // docker run --entrypoint also drops the image's CMD.
  const args = spec.entrypoint ? containerArgs(spec.entrypoint, [], opts.command) : containerArgs(config.Entrypoint, config.Cmd, opts.command);
  if (args.length === 0) {
    throw new NothingToRunError(`Image ${opts.image} has no ENTRYPOINT or CMD, so there is nothing to run; give a command: ribo run ${opts.image} COMMAND [ARG...].`);
  }
  const env = envToMap(config.Env);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  for (const entry of spec.env) {
    const [key, ...value] = entry.split('=');
    env.set(key!, value.join('='));
  }
  const init = spec.init ? await findInit() : undefined;
  const id = randomBytes(6).toString('hex');
  const workDir = path.join(opts.store.root, 'containers', id);
  try {
    const result = await runContainer({
      driver: opts.driver,
      runtime: opts.runtime,
      lowers: lowerDirs(layers),
      workDir,
      id: `ribo-${id}`,
      stdio: opts.stdio ?? (spec.interactive || spec.tty ? 'inherit' : 'inherit-output'),
      spec: {
        args,
        env: mapToEnv(env),
        cwd: spec.workdir ?? (config.WorkingDir || '/'),
        uid: 0,
        gid: 0,
        network: spec.network,
        idCount: opts.idCount,
        hostname: spec.hostname ?? id,
        terminal: spec.tty,
        readonlyRootfs: spec.readOnly,
        mounts: spec.mounts,
        resources: opts.resources,
        capAdd: spec.capAdd,
        capDrop: spec.capDrop,
        noNewPrivileges: spec.noNewPrivileges,
        seccomp: spec.seccomp,
        init,
      },
      prepare: async (rootfs) => {
        const user = await resolveUser(rootfs, spec.user ?? config.User);
        return { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
      },
    });
    return result.exitCode;
  } finally {
    if (opts.remove) await rm(workDir, { recursive: true, force: true });
  }
}
