/**
 * The process that stays with a running container: it mounts the writable
 * layer, starts the OCI runtime, records the container's state as it
 * changes, copies its output to the log, passes signals on, and cleans up
 * when the container exits. For a foreground `ribo run` that is ribo itself;
 * for `ribo run -d` it is a monitor process started in ribo's namespaces,
 * which outlives the command that started it.
 */
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import path from 'node:path';
import { runContainer } from '../runtime/container.js';
import { dropRuntimeStubs } from '../snapshot/index.js';
import type { ContainerStdio } from '../runtime/oci-runtime.js';
import { callerTerminalSize, followTerminalSize } from '../runtime/terminal.js';
import { processIdentity, currentProcess } from '../files/process-identity.js';
import { shortId, type ContainerRecord, type ContainerStore } from './containers.js';
import { LogWriter } from './logs.js';
import { removeContainerFiles } from './lifecycle.js';
import { restartFollows } from './restart-policy.js';
import { prepareRootAtStart, startSpec } from './start-spec.js';
import { startUnderConmon } from './conmon-monitor.js';
import { watchForOrphan, type OrphanWatch } from './orphan-watch.js';
import { classifyStartError } from '../runtime/start-failure.js';
import { forwardSignals } from './signal-forward.js';
import { runTerminalUnderConmon } from './terminal-session.js';
import { ContainerStartError, type SupervisedRun, type SupervisorContext } from './supervision.js';

/** How to start a monitor: ribo's own command line for `container-monitor ID`. */
export interface MonitorLauncher {
  execPath: string;
  args: (id: string) => string[];
  env: NodeJS.ProcessEnv;
}

/** The monitor's report channel to the launcher. */
const REPORT_FD = 3;

/** Copies to `out` with backpressure, for output shown and logged at once. */
function passThrough(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (out.write(chunk)) callback();
      else out.once('drain', () => callback());
    },
  });
}

/**
 * Mounts, runs and waits for the container of `record`; returns how it ran
 * (its exit code, bundle and mount). In the 'foreground' its output is shown on ribo's own stdout and
 * stderr and logged too (with a terminal, -t, it is only shown); 'detached',
 * it is only logged. `started` is called once the container's process exists.
 */
export async function superviseContainer(
  ctx: SupervisorContext,
  record: ContainerRecord,
  mode: 'foreground' | 'detached',
  started?: (record: ContainerRecord) => void,
): Promise<SupervisedRun> {
  const { containers, runtime } = ctx;
  // A terminal is relayed by conmon, which drains it (crun's own relay may drop the last output, docs/unsupported.md).
  if (mode === 'foreground' && record.plan.spec.terminal && ctx.conmonCleanup) {
    const underConmon = await runTerminalUnderConmon(ctx, record, ctx.conmonCleanup(record.id));
    if (underConmon) return underConmon;
  }
  const dir = containers.dirOf(record.id);
  let current = await containers.update(record.id, { monitor: currentProcess() });
  const log = await LogWriter.open(containers.logPath(record.id));
  let containerStdio: ContainerStdio;
  if (mode === 'detached' && (current.plan.spec.terminal || current.plan.interactive)) {
    throw new ContainerStartError(`A detached container with a terminal or stdin (-dt, -di) needs conmon (apt-get install conmon); run it without -i/-t, or in the foreground.`);
  }
  if (mode === 'detached') containerStdio = { stdin: 'ignore', stdout: log.stream('stdout'), stderr: log.stream('stderr') };
  else if (current.plan.spec.terminal) containerStdio = 'inherit';
  else {
    containerStdio = {
      stdin: current.plan.interactive ? 'inherit' : 'ignore',
      stdout: log.stream('stdout', passThrough(process.stdout)),
      stderr: log.stream('stderr', passThrough(process.stderr)),
    };
  }

  const signals = forwardSignals(runtime, current.runtimeId);

  // With -t in the foreground the container's terminal has ribo's size, and follows it.
  const terminalSize = containerStdio === 'inherit' ? callerTerminalSize() : undefined;
  let stopFollowingSize: (() => void) | undefined;
  let orphanWatch: OrphanWatch | undefined;
  let outcome: SupervisedRun;
  const pidFile = path.join(dir, 'container.pid');
  // A pid file left by an earlier run of this container (ribo start) would announce a start too early.
  await rm(pidFile, { force: true });
  try {
    // The writable layer is the container dir's upper/, kept between runs.
    const view = await ctx.driver.prepare({ lowers: current.plan.lowers, dir, volatile: current.autoRemove });
    let result;
    try {
      result = await runContainer({
        runtime,
        rootfs: view.rootfs,
        bundleDir: path.join(dir, 'bundle'),
        id: current.runtimeId,
        stdio: containerStdio,
        spec: { ...startSpec(current), ...(terminalSize ? { consoleSize: { height: terminalSize.rows, width: terminalSize.columns } } : {}) },
        pidFile,
        prepare: prepareRootAtStart(containers, current),
        // Recorded with the implementation that mounted the view: a restart or ribo cp must use the same.
        started: async (pid) => {
          current = await containers.update(record.id, { status: 'running', driver: view.driver, pid: processIdentity(pid) ?? { pid, start: 0 }, startedAt: new Date().toISOString() });
          if (containerStdio === 'inherit') stopFollowingSize = followTerminalSize(pid);
          if (mode === 'foreground' && ctx.orphanCleanup) orphanWatch = watchForOrphan(ctx.orphanCleanup(record.id));
          await ctx.leaveStore?.();
          signals.running();
          started?.(current);
        },
      });
    } finally {
      await view.release();
    }
    await dropRuntimeStubs(view.upper, result.runtimeStubs);
    outcome = { exitCode: result.exitCode, record: current, bundleSpec: result.spec, mount: view.mount, capabilities: view.capabilities };
  } catch (error) {
    await containers.update(record.id, { status: 'exited', exitCode: 125, finishedAt: new Date().toISOString(), error: (error as Error).message }).catch(() => undefined);
    throw error;
  } finally {
    orphanWatch?.stop();
    stopFollowingSize?.();
    signals.stop();
    if (typeof containerStdio === 'object') {
      for (const stream of [containerStdio.stdout, containerStdio.stderr]) await new Promise<void>((resolve) => stream.end(resolve));
    }
    await log.close();
  }
  // Detached, its --restart policy's restart (the monitor's afterExit) is said at once, not after a moment that looks settled.
  const restarting = mode === 'detached' && (await restartFollows(containers, current, outcome.exitCode));
  current = await containers.update(record.id, { status: 'exited', exitCode: outcome.exitCode, finishedAt: new Date().toISOString(), restarting });
  if (current.autoRemove) await removeContainerFiles(containers, current);
  return outcome;
}

/**
 * Starts the monitor of a detached container and waits until the container
 * runs (or fails to start). The monitor reports on a pipe, its fd 3, then
 * closes it; its own diagnostics go to monitor.log in the container's dir.
 */
export async function launchMonitor(containers: ContainerStore, record: ContainerRecord, launch: MonitorLauncher): Promise<ContainerRecord> {
  const monitorLog = path.join(containers.dirOf(record.id), 'monitor.log');
  const logHandle = await open(monitorLog, 'a', 0o600);
  const child = spawn(launch.execPath, launch.args(record.id), {
    detached: true,
    stdio: ['ignore', logHandle.fd, logHandle.fd, 'pipe'],
    env: launch.env,
  });
  await logHandle.close();
  const report = child.stdio[3] as NodeJS.ReadableStream;
  const lines = createInterface({ input: report });
  const first = await new Promise<string | undefined>((resolve) => {
    lines.once('line', (line) => resolve(line));
    lines.once('close', () => resolve(undefined));
    child.once('error', () => resolve(undefined));
  });
  lines.close();
  child.unref();
  (report as unknown as { destroy?: () => void }).destroy?.();
  if (first === 'started') return containers.read(record.id);
  const reason = first?.startsWith('failed ') ? first.slice('failed '.length) : `the monitor process exited before the container started; see ${monitorLog}`;
  // A command not found or not executable exits 127 or 126, as docker run -d.
  const failure = classifyStartError(reason);
  throw new ContainerStartError(`Container ${shortId(record.id)} (${record.name}) did not start: ${reason}`, { exitCode: failure?.exitCode ?? 1 });
}

/**
 * The monitor's side (`ribo container-monitor ID`): runs the container with
 * its output to the log, and reports "started" or "failed MESSAGE" on fd 3.
 * With `cleanupCommand`, conmon takes the container over where it can and
 * this process ends once the container runs; otherwise `afterExit` is
 * called once the container's exit is recorded.
 */
export async function runMonitor(ctx: SupervisorContext, id: string, cleanupCommand?: string[], afterExit?: (id: string) => Promise<unknown>): Promise<number> {
  const record = await ctx.containers.read(id);
  // fd 3 is the launcher's end of a socket pair; written once, synchronously, then closed.
  let reported = false;
  const say = async (line: string) => {
    if (reported) return;
    reported = true;
    try {
      writeSync(REPORT_FD, `${line}\n`);
      closeSync(REPORT_FD);
    } catch {
      // the launcher is gone; nobody to tell
    }
  };
  try {
    // conmon, where it can, stays with the container instead of this process (conmon-monitor.ts).
    if (cleanupCommand && (await startUnderConmon(ctx, record, cleanupCommand))) {
      await say('started');
      return 0;
    }
    const { exitCode } = await superviseContainer(ctx, record, 'detached', () => void say('started'));
    // What conmon's exit command does after a container it held (a --restart policy).
    await afterExit?.(id);
    return exitCode;
  } catch (error) {
    await say(`failed ${(error as Error).message.replace(/\n/g, ' ')}`);
    throw error;
  } finally {
    await say('started');
  }
}
