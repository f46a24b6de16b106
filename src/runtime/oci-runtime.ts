import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { execa } from 'execa';
import { RiboError } from '../errors.js';
import { findExecutable } from '../files/executables.js';
import { markTopDir } from '../files/spread-dirs.js';
import { closeWriteEnds, copyOutput, openOutputPipes, type OutputPipe } from './pipes.js';
import { runtimeErrors, startFailure, startFailureMessage } from './start-failure.js';
import type { RuntimeSpec } from '../oci/runtime-spec.js';
import { SeccompFilters, seccompFilterDir } from './seccomp-filters.js';

export type RuntimeName = 'crun' | 'runc';
export const RUNTIME_NAMES: readonly RuntimeName[] = ['crun', 'runc'];

export class RuntimeError extends RiboError {}

/** Where a store keeps one runtime's state (its --root), so stores never see each other's containers. */
export function runtimeStateDir(storeRoot: string, name: string): string {
  return path.join(storeRoot, 'run', name);
}

/**
 * Where the container's standard streams go: the caller's own ('inherit'),
 * the caller's stdout and stderr with stdin from /dev/null ('inherit-output',
 * docker run without -i), or the given streams.
 */
export type ContainerStdio = 'inherit' | 'inherit-output' | { stdin?: 'ignore' | 'inherit'; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/**
 * The guard of OciRuntime.guard: "$0" "$@" is the runtime's kill command.
 * The container may still be starting when ribo dies: kill is tried again
 * until the runtime no longer knows the container or has it stopped.
 */
const CONTAINER_GUARD = `trap '' INT TERM HUP QUIT USR1 USR2 PIPE
read -r word || word=
[ "$word" = done ] && exit 0
for _ in 1 2 3 4 5 6 7 8 9 10; do "$0" "$@" 2>/dev/null || exit 0; sleep 0.5; done`;

/** The command a process runs, without --init's prefix. */
function commandOf(config: RuntimeSpec): string | undefined {
  const args = config.process?.args ?? [];
  return args[1] === '--' && args[0]?.endsWith('/init') ? args[2] : args[0];
}

/**
 * One OCI runtime binary (crun or runc), with its state kept under ribo's
 * store so containers of different stores never see each other.
 */
export class OciRuntime {
  private constructor(
    readonly name: RuntimeName,
    readonly binary: string,
    /** The runtime's --root: its state of every container of this store. */
    readonly stateDir: string,
    private readonly rootless: boolean,
    private readonly prepareHost?: (binary: string) => Promise<void>,
  ) {
    if (name === 'crun') this.seccompFilters = new SeccompFilters(seccompFilterDir(stateDir), { binary, stateDir, globalArgs: this.globalArgs() });
  }

  /** crun's compiled seccomp filters (runc compiles at every start and takes no compiled one). */
  private readonly seccompFilters?: SeccompFilters;

  private hostReady?: Promise<void>;

  /**
   * `prepareHost` runs once, before the first container, given the runtime's
   * binary: work only containers need (hiding the unified cgroup hierarchy
   * from crun, binding crun read-only: session.ts) is skipped by sessions that
   * only mount and copy.
   */
  static async select(opts: { requested?: string; stateDir: string; rootless: boolean; prepareHost?: (binary: string) => Promise<void> }): Promise<OciRuntime> {
    const name = (opts.requested ?? 'crun') as RuntimeName;
    if (!RUNTIME_NAMES.includes(name)) {
      throw new RuntimeError(`Unknown OCI runtime "${opts.requested}" (from --runtime or RIBO_RUNTIME); use crun or runc.`);
    }
    const binary = await findExecutable(name);
    if (!binary) throw new RuntimeError(`The OCI runtime ${name} is not installed. Install it (as root: apt-get install ${name}) or choose the other one with --runtime.`);
    // The runtime makes a dir there for each container: each in a block group of its own (files/spread-dirs.ts).
    if (await mkdir(opts.stateDir, { recursive: true })) await markTopDir(opts.stateDir);
    return new OciRuntime(name, binary, opts.stateDir, opts.rootless, opts.prepareHost);
  }

  /** The options every invocation of the runtime starts with (also written into run plans). */
  globalArgs(): string[] {
    const args = ['--root', this.stateDir];
    // Without delegation an unprivileged user cannot create cgroups; crun would fail trying.
    if (this.name === 'crun' && this.rootless) args.push('--cgroup-manager=disabled');
    return args;
  }

  async version(): Promise<string> {
    const result = await execa(this.binary, ['--version'], { reject: false });
    return result.stdout.split('\n')[0]?.trim() ?? 'unknown';
  }

  /**
   * Creates, starts and waits for a container; resolves with its exit code
   * (128+N when killed by signal N). With `pidFile`, the runtime writes the
   * container's pid there before it starts the process.
   */
  async run(bundleDir: string, id: string, stdio: ContainerStdio, opts: { pidFile?: string } = {}): Promise<number> {
    await this.ready();
    const command = async () => commandOf(JSON.parse(await readFile(path.join(bundleDir, 'config.json'), 'utf8')) as RuntimeSpec);
    const guard = this.guard(id);
    try {
      return await this.attach(['run', ...(opts.pidFile ? ['--pid-file', opts.pidFile] : []), '--bundle', bundleDir, id], stdio, bundleDir, command);
    } finally {
      guard.release();
    }
  }

  /**
   * Makes sure the container dies with this process, however it ends (even
   * SIGKILL, which no handler sees): a small shell started beside the runtime
   * waits on a pipe only this process holds. `release` (the container ended)
   * tells it so; end of file means this process is gone, and the shell kills
   * the container with SIGKILL through the runtime, which then exits too. It
   * ignores the signals a terminal sends to the whole process group, which
   * are for the container.
   */
  private guard(id: string): { release: () => void } {
    const kill = [this.binary, ...this.globalArgs(), 'kill', id, 'KILL'];
    const watcher = spawn('/bin/sh', ['-c', CONTAINER_GUARD, ...kill], { stdio: ['pipe', 'ignore', 'ignore'] });
    watcher.on('error', () => undefined);
    watcher.stdin.on('error', () => undefined);
    watcher.unref();
    (watcher.stdin as unknown as { unref?: () => void }).unref?.();
    return { release: () => watcher.stdin.end('done\n') };
  }

  /** Runs the process described by `processFile` (an OCI process JSON) in the running container `id`. */
  async exec(id: string, processFile: string, stdio: ContainerStdio, opts: { pidFile?: string } = {}): Promise<number> {
    const command = async () => commandOf({ ociVersion: '', process: JSON.parse(await readFile(processFile, 'utf8')) as RuntimeSpec['process'] });
    return this.attach(['exec', ...(opts.pidFile ? ['--pid-file', opts.pidFile] : []), '--process', processFile, id], stdio, path.dirname(processFile), command);
  }

  /** A bundle's config as this runtime should get it: crun's with its seccomp filter compiled beforehand (seccomp-filters.ts). */
  async finishConfig(config: RuntimeSpec): Promise<RuntimeSpec> {
    if (!this.seccompFilters || !config.linux?.seccomp) return config;
    // crun compiles the filter in a container it creates, which needs the host prepared.
    await this.ready();
    return this.seccompFilters.precompiled(config);
  }

  /** Prepares the host for containers (once); before another process (conmon) runs the runtime. */
  async ready(): Promise<void> {
    await (this.hostReady ??= this.prepareHost?.(this.binary) ?? Promise.resolve());
  }

  /** Starts a container created by another process (conmon runs `create`). */
  async start(id: string): Promise<void> {
    const result = await execa(this.binary, [...this.globalArgs(), 'start', id], { reject: false });
    if (result.exitCode !== 0) throw new RuntimeError(`${this.name} could not start container ${id}: ${result.stderr.trim() || `exit code ${result.exitCode}`}`);
  }

  /** Sends `signal` (a name like TERM or SIGTERM, or a number) to the container's first process. */
  async kill(id: string, signal: string): Promise<boolean> {
    const result = await execa(this.binary, [...this.globalArgs(), 'kill', id, signal.replace(/^SIG/, '')], { reject: false });
    return result.exitCode === 0;
  }

  /**
   * Runs the runtime with the container's stdio; given streams are fed from
   * pipes made in `pipeDir` (see pipes.ts), never from Node's socket pairs.
   * The runtime logs to a file there, not to the container's streams; a
   * command that could not be started exits 126 or 127 (start-failure.ts).
   */
  private async attach(args: string[], stdio: ContainerStdio, pipeDir: string, command: () => Promise<string | undefined>): Promise<number> {
    const pipes: OutputPipe[] = typeof stdio === 'object' ? await openOutputPipes(pipeDir, 2) : [];
    const logFile = path.join(pipeDir, `runtime-${randomBytes(4).toString('hex')}.log`);
    let child;
    try {
      child = spawn(this.binary, [...this.globalArgs(), `--log=${logFile}`, '--log-format=json', ...args], {
        stdio: stdio === 'inherit' ? 'inherit' : stdio === 'inherit-output' ? ['ignore', 'inherit', 'inherit'] : [stdio.stdin ?? 'ignore', pipes[0]!.writeFd, pipes[1]!.writeFd],
      });
    } finally {
      closeWriteEnds(pipes);
    }
    const copies = typeof stdio === 'object' ? [copyOutput(pipes[0]!, stdio.stdout), copyOutput(pipes[1]!, stdio.stderr)] : [];
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', (error) => reject(new RuntimeError(`Could not start ${this.name}: ${error.message}`)));
      child.on('close', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? os.constants.signals[signal] : 1)));
    });
    for (const copy of copies) copy.processExited();
    await Promise.all(copies.map((copy) => copy.done));
    const failure = code === 0 ? undefined : startFailure(await runtimeErrors(logFile), copies[1]?.tail() ?? '');
    await rm(logFile, { force: true });
    if (!failure) return code;
    const message = startFailureMessage(await command().catch(() => undefined), failure);
    if (typeof stdio === 'object') stdio.stderr.write(message);
    else process.stderr.write(message);
    return failure.exitCode;
  }

  /** Removes what the runtime keeps of a container; harmless if it is already gone. */
  async delete(id: string): Promise<void> {
    // `run` removes its container when it ends; only one it left behind needs the runtime.
    if (!(await stat(path.join(this.stateDir, id)).then(() => true, () => false))) return;
    await execa(this.binary, [...this.globalArgs(), 'delete', '--force', id], { reject: false });
  }
}
