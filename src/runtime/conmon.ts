/**
 * conmon, the container monitor podman and CRI-O use, as the host-side
 * process of a detached container: a small C program (about 2 MB resident)
 * that creates the container through the OCI runtime, holds its stdio
 * pipes (or its terminal), writes its output to a log file (k8s-file:
 * `TIME STREAM F|P TEXT` lines), records its exit code in a file, offers an
 * attach socket, and runs an exit command when the container ends. ribo
 * starts it the way podman does: `_OCI_SYNCPIPE` names an inherited pipe on
 * which conmon reports `{"data": PID}` once the runtime created the
 * container (or a negative number and a message when it failed); ribo then
 * runs `RUNTIME start`.
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { RiboError } from '../errors.js';
import { findExecutable } from '../files/executables.js';
import type { OciRuntime } from './oci-runtime.js';

export class ConmonError extends RiboError {}

export interface ConmonRun {
  runtime: OciRuntime;
  /** The runtime's container id (also conmon's -c and -u). */
  id: string;
  name: string;
  bundleDir: string;
  /** Where the runtime writes the container's pid. */
  pidFile: string;
  /** The container's log, k8s-file format. */
  logFile: string;
  /** A directory where conmon writes a file named `id` holding the exit code. */
  exitDir: string;
  /** A directory for the attach socket (`id`/attach) and the control FIFOs. */
  socketDir: string;
  /** Where conmon writes its own pid. */
  conmonPidFile: string;
  /** The runtime's own log (errors of create), not the container's output. */
  runtimeLog: string;
  /** Where conmon's diagnostics go (its stderr). */
  diagnostics: string;
  /** Run when the container has exited (ribo's clean-up). */
  exitCommand: string[];
  env: NodeJS.ProcessEnv;
  terminal?: boolean;
  stdin?: boolean;
}

/** The conmon binary, or undefined when it is not installed. */
export async function findConmon(): Promise<string | undefined> {
  return findExecutable('conmon');
}

/** conmon's command line for `run` (without the binary). */
export function conmonArgs(run: ConmonRun): string[] {
  const runtimeArgs = [...run.runtime.globalArgs(), `--log=${run.runtimeLog}`, '--log-format=json'];
  const [exitCommand, ...exitArgs] = run.exitCommand;
  return [
    '--api-version', '1',
    '-c', run.id, '-u', run.id, '-n', run.name,
    '-r', run.runtime.binary,
    '-b', run.bundleDir,
    '-p', run.pidFile,
    '-l', `k8s-file:${run.logFile}`,
    '--exit-dir', run.exitDir,
    '--socket-dir-path', run.socketDir,
    '--full-attach',
    '--conmon-pidfile', run.conmonPidFile,
    '--log-level', 'error',
    ...runtimeArgs.map((arg) => `--runtime-arg=${arg}`),
    ...(run.terminal ? ['-t'] : []),
    // As docker's `run -di`: the container's stdin stays open when an attached client leaves.
    ...(run.stdin ? ['-i', '--leave-stdin-open'] : []),
    ...(exitCommand ? ['--exit-command', exitCommand, ...exitArgs.flatMap((arg) => ['--exit-command-arg', arg])] : []),
  ];
}

/**
 * Starts conmon (it daemonizes) and waits until the runtime created the
 * container; returns the container's pid and conmon's. The container is
 * created, not started: the caller runs `runtime.start(id)`.
 */
export async function launchConmon(binary: string, run: ConmonRun): Promise<{ pid: number; conmonPid: number }> {
  const diagnostics = await open(run.diagnostics, 'a', 0o600);
  const child = spawn(binary, conmonArgs(run), {
    detached: true,
    stdio: ['ignore', diagnostics.fd, diagnostics.fd, 'pipe'],
    env: { ...run.env, _OCI_SYNCPIPE: '3' },
  });
  await diagnostics.close();
  const lines = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream });
  const first = await new Promise<string | undefined>((resolve) => {
    lines.once('line', resolve);
    lines.once('close', () => resolve(undefined));
    child.once('error', () => resolve(undefined));
  });
  lines.close();
  (child.stdio[3] as unknown as { destroy(): void }).destroy();
  child.unref();
  let report: { data?: number; message?: string } = {};
  try {
    report = JSON.parse(first ?? '{}') as typeof report;
  } catch {
    // not conmon's report
  }
  if (!report.data || report.data < 0) {
    const why = report.message?.trim() || (await readFile(run.diagnostics, 'utf8').catch(() => '')).trim().split('\n').at(-1) || 'conmon reported nothing';
    throw new ConmonError(`conmon could not create the container: ${why} (see ${run.diagnostics} and ${run.runtimeLog}).`);
  }
  const conmonPid = Number((await readFile(run.conmonPidFile, 'utf8').catch(() => '')).trim());
  return { pid: report.data, conmonPid };
}

/** The container's exit code as conmon wrote it, or undefined when there is none. */
export async function conmonExitCode(exitDir: string, id: string): Promise<number | undefined> {
  const text = (await readFile(`${exitDir}/${id}`, 'utf8').catch(() => '')).trim();
  return /^-?\d+$/.test(text) ? Number(text) : undefined;
}
