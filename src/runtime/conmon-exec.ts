/**
 * `ribo exec -t` under conmon, as podman execs (`conmon --exec
 * --exec-attach`): conmon runs `RUNTIME exec --detach` with a console socket
 * and relays the command's terminal through an attach socket, which it
 * drains before closing (crun's own relay may not, docs/unsupported.md).
 * Three inherited pipes drive it: `_OCI_STARTPIPE` (ribo writes once to let
 * conmon go on, and once more when it is attached), `_OCI_ATTACHPIPE`
 * (conmon says when its attach socket listens) and `_OCI_SYNCPIPE` (conmon
 * reports `{"data": PID}` once the command runs, then `{"data": STATUS}`
 * when it has ended; negative with a message when it could not run it).
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { ConmonError } from './conmon.js';
import type { OciRuntime } from './oci-runtime.js';

export interface ConmonExecRun {
  runtime: OciRuntime;
  /** The runtime's id of the container. */
  containerId: string;
  /** An id of this exec session. */
  sessionId: string;
  /** A directory of this session: conmon's attach socket (`attach`) and `ctl` FIFO. */
  sessionDir: string;
  /** The process description (`RUNTIME exec --process`). */
  processFile: string;
  pidFile: string;
  /** The runtime's own log (why it could not run the command). */
  runtimeLog: string;
  /** Where conmon's diagnostics go (its stderr). */
  diagnostics: string;
  env: NodeJS.ProcessEnv;
  stdin: boolean;
}

export interface ConmonExecSession {
  /** Resolves when the runtime has started the command. */
  started: Promise<void>;
  /** The command's exit status once it has ended (128+N for signal N). */
  exited: Promise<number>;
}

/** conmon's command line for an exec session (without the binary). */
export function conmonExecArgs(run: ConmonExecRun): string[] {
  return [
    '--api-version', '1',
    '--exec', '--exec-attach', '--exec-process-spec', run.processFile,
    '-c', run.containerId, '-u', run.sessionId,
    '-r', run.runtime.binary,
    '-b', run.sessionDir, '--full-attach',
    '--socket-dir-path', run.sessionDir,
    '-p', run.pidFile,
    '-l', 'none',
    '--log-level', 'error',
    ...[...run.runtime.globalArgs(), `--log=${run.runtimeLog}`, '--log-format=json'].map((arg) => `--runtime-arg=${arg}`),
    '-t',
    ...(run.stdin ? ['-i'] : []),
  ];
}

interface Report {
  data?: number;
  message?: string;
}

function parseReport(line: string | undefined): Report {
  try {
    return JSON.parse(line ?? '{}') as Report;
  } catch {
    return {};
  }
}

/**
 * Starts conmon for an exec session and calls `attach` once its socket
 * listens; the command is started when `attach` resolves, so none of its
 * output is missed.
 */
export async function execUnderConmon(binary: string, run: ConmonExecRun, attach: () => Promise<void>): Promise<ConmonExecSession> {
  const diagnostics = await open(run.diagnostics, 'a', 0o600);
  // fd 3: sync, 4: start (ribo writes), 5: attach.
  const child = spawn(binary, conmonExecArgs(run), {
    detached: true,
    stdio: ['ignore', diagnostics.fd, diagnostics.fd, 'pipe', 'pipe', 'pipe'],
    env: { ...run.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' },
  });
  await diagnostics.close();
  child.unref();
  const start = child.stdio[4] as Writable;
  start.on('error', () => undefined);
  const why = async (report: Report) => report.message?.trim() || (await readFile(run.diagnostics, 'utf8').catch(() => '')).trim().split('\n').at(-1) || 'conmon reported nothing';
  const pipes = child.stdio as unknown as Array<NodeJS.ReadableStream & { destroy(): void }>;
  const lines = (fd: number) => createInterface({ input: pipes[fd]! })[Symbol.asyncIterator]();
  const sync = lines(3);
  const attachPipe = lines(5);
  start.write('0');
  const attachReady = parseReport((await attachPipe.next()).value as string | undefined);
  await attachPipe.return?.();
  if (attachReady.data === undefined || attachReady.data < 0) throw new ConmonError(`conmon could not set up the exec session: ${await why(attachReady)} (see ${run.diagnostics}).`);
  await attach();
  start.end('0');
  const first = parseReport((await sync.next()).value as string | undefined);
  if (first.data === undefined || first.data < 0) throw new ConmonError(`could not run the command: ${await why(first)}`);
  const exited = (async () => {
    const last = parseReport((await sync.next()).value as string | undefined);
    await sync.return?.();
    for (const fd of [3, 5]) pipes[fd]?.destroy();
    if (last.data === undefined) throw new ConmonError(`conmon ended without the command's exit status (see ${run.diagnostics}).`);
    return last.data;
  })();
  exited.catch(() => undefined);
  return { started: Promise.resolve(), exited };
}
