/**
 * `ribo exec`: a further process in a running container. It runs inside the
 * container's monitor's namespaces (where the rootfs is mounted and the
 * runtime's state is valid), through the runtime's exec with a process
 * description derived from the container's own.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ContainerStdio, OciRuntime } from '../runtime/oci-runtime.js';
import type { RuntimeSpec } from '../oci/runtime-spec.js';
import { runtimeConfigJson } from '../runtime/rlimits.js';
import { processGroups, resolveGroups, resolveUser, withAddedGroups } from '../runtime/users.js';
import { callerTerminalSize, followTerminalSize } from '../runtime/terminal.js';
import { envToMap, mapToEnv } from '../image/env.js';
import type { ContainerRecord, ContainerStore } from './containers.js';
import { execWithTerminal } from './exec-terminal.js';

export interface ExecOptions {
  command: string[];
  /** NAME=VALUE entries added to the container's environment. */
  env: string[];
  user?: string;
  workdir?: string;
  interactive: boolean;
  tty: boolean;
}

/**
 * The container's process with another command, environment, user or
 * directory. `givenEnv` is the environment the container was given (image
 * and -e), before its start added HOME: with `-u` and no HOME given, HOME is
 * the exec user's, as docker and podman set it.
 */
export async function execProcess(bundleConfig: RuntimeSpec, rootfs: string, opts: ExecOptions, givenEnv: string[] = [], groupAdd: string[] = []): Promise<NonNullable<RuntimeSpec['process']>> {
  const base = bundleConfig.process!;
  const env = envToMap(base.env);
  let user = base.user;
  if (opts.user !== undefined) {
    const resolved = await resolveUser(rootfs, opts.user);
    // The container's --group-add groups are every exec'd process's too, as docker gives them.
    user = { uid: resolved.uid, gid: resolved.gid, additionalGids: withAddedGroups(processGroups(resolved), await resolveGroups(rootfs, groupAdd)) };
    if (!givenEnv.some((entry) => entry.startsWith('HOME='))) env.set('HOME', resolved.home || '/');
  }
  for (const entry of opts.env) {
    const [key, ...value] = entry.split('=');
    env.set(key!, value.join('='));
  }
  if (opts.tty && !env.has('TERM')) env.set('TERM', process.env.TERM || 'xterm');
  const size = opts.tty ? callerTerminalSize() : undefined;
  return { ...base, args: opts.command, env: mapToEnv(env), cwd: opts.workdir ?? base.cwd, user, terminal: opts.tty, consoleSize: size ? { height: size.rows, width: size.columns } : undefined };
}

export async function execInContainer(runtime: OciRuntime, containers: ContainerStore, record: ContainerRecord, opts: ExecOptions): Promise<number> {
  const dir = containers.dirOf(record.id);
  const config = JSON.parse(await readFile(path.join(dir, 'bundle', 'config.json'), 'utf8')) as RuntimeSpec;
  // The container's mounted root, as its bundle names it.
  const processSpec = await execProcess(config, config.root?.path ?? '', opts, record.plan.spec.env, record.plan.groupAdd);
  const processFile = path.join(dir, `exec-${randomBytes(6).toString('hex')}.json`);
  await writeFile(processFile, runtimeConfigJson(processSpec), { mode: 0o600 });
  const pidFile = opts.tty ? `${processFile}.pid` : undefined;
  let stopFollowing: (() => void) | undefined;
  try {
    // A terminal is relayed by conmon where it is installed (exec-terminal.ts): crun's own relay may drop the last output.
    if (opts.tty) {
      const viaConmon = await execWithTerminal({ runtime, runtimeId: record.runtimeId, containerDir: dir, processFile, interactive: opts.interactive, command: opts.command[0] });
      if (viaConmon !== undefined) return viaConmon;
    }
    const stdio: ContainerStdio = opts.tty ? 'inherit' : { stdin: opts.interactive ? 'inherit' : 'ignore', stdout: process.stdout, stderr: process.stderr };
    const running = runtime.exec(record.runtimeId, processFile, stdio, { pidFile });
    // With -t the command's terminal follows ribo's size, as `ribo run -t` (runtime/terminal.ts).
    if (pidFile) stopFollowing = await followOnceStarted(pidFile, running);
    return await running;
  } finally {
    stopFollowing?.();
    await rm(processFile, { force: true });
    if (pidFile) await rm(pidFile, { force: true });
  }
}

/** Follows ribo's terminal size once the runtime wrote the exec'd process's pid; gives up when it ended first. */
async function followOnceStarted(pidFile: string, running: Promise<number>): Promise<(() => void) | undefined> {
  let done = false;
  void running.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (pid > 0) return followTerminalSize(pid);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}
