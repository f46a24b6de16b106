import { rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { unpackImageLayers, lowerDirs } from '../image/layers.js';
import { envToMap, mapToEnv } from '../image/env.js';
import { DEFAULT_PATH } from '../image/platform.js';
import { storeRefFor } from '../image/transport-ref.js';
import { runContainer } from '../runtime/container.js';
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
  env?: string[];
  workdir?: string;
  user?: string;
  network?: 'host' | 'none';
  stdio: 'inherit' | { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
}

export class NothingToRunError extends RiboError {}

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
  const args = containerArgs(config.Entrypoint, config.Cmd, opts.command);
  if (args.length === 0) {
    throw new NothingToRunError(`Image ${opts.image} has no ENTRYPOINT or CMD, so there is nothing to run; give a command: ribo run ${opts.image} COMMAND [ARG...].`);
  }
  const env = envToMap(config.Env);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  for (const entry of opts.env ?? []) {
    const [key, ...value] = entry.split('=');
    env.set(key!, value.join('='));
  }
  const id = randomBytes(6).toString('hex');
  const workDir = path.join(opts.store.root, 'containers', id);
  try {
    const result = await runContainer({
      driver: opts.driver,
      runtime: opts.runtime,
      lowers: lowerDirs(layers),
      workDir,
      id: `ribo-${id}`,
      stdio: opts.stdio,
      spec: { args, env: mapToEnv(env), cwd: opts.workdir ?? (config.WorkingDir || '/'), uid: 0, gid: 0, network: opts.network ?? 'host', idCount: opts.idCount, hostname: id },
      prepare: async (rootfs) => {
        const user = await resolveUser(rootfs, opts.user ?? config.User);
        return { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
      },
    });
    return result.exitCode;
  } finally {
    if (opts.remove) await rm(workDir, { recursive: true, force: true });
  }
}
