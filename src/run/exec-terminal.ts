/**
 * `ribo exec -t` relayed by conmon (runtime/conmon-exec.ts), as `podman
 * exec -t`: crun relaying the terminal itself may drop the command's last
 * output (docs/unsupported.md). ribo attaches to conmon's socket before the
 * command starts, copies its output until conmon has drained the terminal,
 * then leaves with the command's exit status. With -i what is typed goes to
 * the command's terminal (raw mode; ctrl-p ctrl-q detaches, as docker).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { findExecutable } from '../files/executables.js';
import { findConmon } from '../runtime/conmon.js';
import { execUnderConmon } from '../runtime/conmon-exec.js';
import { attachThroughSocket, type AttachSession } from '../runtime/conmon-attach.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { runtimeErrors, startFailure, startFailureMessage } from '../runtime/start-failure.js';
import { detachKeys, resizeThroughConmon } from './attach.js';

export interface TerminalExec {
  runtime: OciRuntime;
  /** The runtime's id of the container. */
  runtimeId: string;
  /** The container's dir, where the session's dir is made. */
  containerDir: string;
  /** The process description written for the runtime. */
  processFile: string;
  interactive: boolean;
  /** The command's name, for the message when it cannot be run. */
  command: string | undefined;
}

/** Runs the exec under conmon; undefined (nothing done) when conmon or socat is not installed. */
export async function execWithTerminal(exec: TerminalExec): Promise<number | undefined> {
  const conmon = await findConmon();
  if (!conmon || !(await findExecutable('socat'))) return undefined;
  const sessionId = path.basename(exec.processFile, '.json');
  const sessionDir = path.join(exec.containerDir, sessionId);
  await mkdir(sessionDir, { recursive: true });
  let session: AttachSession | undefined;
  let detached = false;
  const onResize = () => setImmediate(() => resizeThroughConmon(sessionDir));
  // Followed from before the start: a resize in the moment the command starts (its output may already show) is not lost.
  process.on('SIGWINCH', onResize);
  try {
    const runtimeLog = path.join(sessionDir, 'runtime.log');
    const running = await execUnderConmon(conmon, {
      runtime: exec.runtime,
      containerId: exec.runtimeId,
      sessionId,
      sessionDir,
      processFile: exec.processFile,
      pidFile: path.join(sessionDir, 'pid'),
      runtimeLog,
      diagnostics: path.join(sessionDir, 'conmon.log'),
      env: process.env,
      stdin: exec.interactive,
    }, async () => {
      session = await attachThroughSocket(sessionDir, process.stdout, process.stderr, exec.interactive);
      session.ended.catch(() => undefined);
      await session.connected;
    }).catch(async (error: unknown) => {
      // 127 or 126 with one line naming the command, as without a terminal (runtime/start-failure.ts).
      const failure = startFailure(await runtimeErrors(runtimeLog), '');
      if (!failure) throw error;
      process.stderr.write(startFailureMessage(exec.command, failure));
      return failure.exitCode;
    });
    if (typeof running === 'number') return running;
    // The runtime sizes the new terminal (consoleSize) as the command starts; a resize conmon got before the
    // terminal existed did nothing: ribo's size once more, now that it exists.
    resizeThroughConmon(sessionDir);
    const keys = exec.interactive ? detachKeys(session!.input) : undefined;
    try {
      const ended = session!.ended.then(() => 'ended' as const, () => 'ended' as const);
      const how = await Promise.race([ended, ...(keys ? [keys.typed.then(() => 'detached' as const)] : [])]);
      detached = how === 'detached';
    } finally {
      keys?.stop();
    }
    if (detached) {
      session!.close();
      return 0;
    }
    return await running.exited;
  } finally {
    process.off('SIGWINCH', onResize);
    session?.close();
    // A detached session's conmon still uses its dir.
    if (!detached) await rm(sessionDir, { recursive: true, force: true });
  }
}
