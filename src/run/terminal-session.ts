/**
 * A foreground container with a terminal (`ribo run -t`, `-it`, `ribo
 * start -a` of one), relayed by conmon as podman does, not by the OCI
 * runtime: crun, left to relay between its stdio and the terminal itself,
 * returns when the container's last process is reaped without draining what
 * is still in the terminal, so the container's last output (or all of it)
 * could be lost (docs/unsupported.md). conmon drains the terminal before it
 * closes its attach socket.
 *
 * The container is created under conmon (conmon-monitor.ts), ribo attaches
 * to conmon's socket (runtime/conmon-attach.ts) before the container
 * starts, so none of its output is missed, then relays until the socket
 * closes: the container has ended and conmon has drained its terminal. The
 * exit code is the one conmon's exit command (`ribo container-cleanup`)
 * records; with --rm that clean-up leaves the removal to this ribo, the
 * record's `waiter`, while it lives, so the exit code is read before the
 * record goes. Should ribo be killed, the orphan watcher (orphan-watch.ts)
 * kills the container, and its clean-up removes it (--rm), as before.
 */
import { findConmon } from '../runtime/conmon.js';
import { attachThroughSocket, type AttachSession } from '../runtime/conmon-attach.js';
import { findExecutable } from '../files/executables.js';
import { currentProcess, isAlive } from '../files/process-identity.js';
import { callerTerminalSize, consoleSizeOf } from '../runtime/terminal.js';
import { classifyStartError } from '../runtime/start-failure.js';
import { RiboError } from '../errors.js';
import type { ContainerRecord, ContainerStore } from './containers.js';
import { startUnderConmon, type ConmonStarted } from './conmon-monitor.js';
import { detachKeys, exitCodeOf, exitedRecord, resizeThroughConmon } from './attach.js';
import { removeContainerFiles } from './lifecycle.js';
import { forwardSignals } from './signal-forward.js';
import { watchForOrphan } from './orphan-watch.js';
import { ContainerStartError, type SupervisedRun, type SupervisorContext } from './supervision.js';

/** How long --rm waits for conmon's clean-up before leaving the container to the next command's recovery, and how often it looks. */
const CLEANUP_WAIT_MS = 60_000;
const POLL_MS = 50;

/**
 * Runs `record` (which has a terminal) in the foreground under conmon and
 * returns how it ran; undefined (nothing done) when conmon or socat is not
 * installed, for the runtime's own relay to take over.
 */
export async function runTerminalUnderConmon(ctx: SupervisorContext, record: ContainerRecord, cleanupCommand: string[]): Promise<SupervisedRun | undefined> {
  if (!(await findConmon()) || !(await findExecutable('socat'))) return undefined;
  const { containers, runtime } = ctx;
  // The terminal starts at the caller's size now (a `start -a` may come from another terminal than the run).
  const size = callerTerminalSize();
  const current = await containers.update(record.id, {
    waiter: currentProcess(),
    ...(size ? { plan: { ...record.plan, spec: { ...record.plan.spec, consoleSize: consoleSizeOf(size) } } } : {}),
  });
  const signals = forwardSignals(runtime, current.runtimeId);
  let session: AttachSession | undefined;
  let started: ConmonStarted | undefined;
  try {
    started = await startUnderConmon(ctx, current, cleanupCommand, async (bundleDir) => {
      session = await attachThroughSocket(bundleDir, process.stdout, process.stderr, current.plan.interactive === true);
      session.ended.catch(() => undefined);
      await session.connected;
    });
  } catch (error) {
    session?.close();
    signals.stop();
    if (error instanceof RiboError && error.exitCode !== 1) throw error;
    // A command not found or not executable is 127 or 126, as docker run; other failures to start are ribo's own, 125.
    const exitCode = classifyStartError((error as Error).message)?.exitCode ?? 125;
    throw new ContainerStartError((error as Error).message, { exitCode, cause: error });
  }
  if (!started || !session) {
    signals.stop();
    await containers.update(record.id, { waiter: undefined });
    return undefined;
  }
  signals.running();
  const orphanWatch = ctx.orphanCleanup ? watchForOrphan(ctx.orphanCleanup(record.id)) : undefined;
  try {
    const detached = await relay(session, containers.dirOf(record.id), current.plan.interactive === true);
    if (detached) {
      // Left running, as docker's detach keys leave it: conmon's clean-up now ends it alone (and removes it with --rm).
      await containers.update(record.id, { waiter: undefined });
      return { ...runOf(started), exitCode: 0 };
    }
    const exitCode = await exitCodeOf(containers, (await exitedRecord(containers, started.record)) ?? current);
    if (current.autoRemove) await removeOnceCleanedUp(containers, record.id);
    return { ...runOf(started), exitCode };
  } finally {
    signals.stop();
    orphanWatch?.stop();
  }
}

/**
 * --rm: removes the container once conmon's clean-up has recorded its exit
 * (or conmon is gone without doing so), the clean-up having left the removal
 * to this waiter. Gone already: nothing to do.
 */
async function removeOnceCleanedUp(containers: ContainerStore, id: string): Promise<void> {
  for (let waited = 0; waited <= CLEANUP_WAIT_MS; waited += POLL_MS) {
    const current = await containers.read(id).catch(() => undefined);
    if (!current) return;
    if (current.status === 'exited' || !isAlive(current.monitor)) {
      await removeContainerFiles(containers, current);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function runOf(started: ConmonStarted): Omit<SupervisedRun, 'exitCode'> {
  return { record: started.record, bundleSpec: started.bundleSpec, mount: started.mount, capabilities: started.capabilities };
}

/**
 * Relays until the socket closes (false) or the detach keys are typed
 * (true); with -i, ribo's terminal is raw and what is typed goes to the
 * container's terminal, Ctrl-C included. Resizes follow ribo's terminal.
 */
async function relay(session: AttachSession, containerDir: string, interactive: boolean): Promise<boolean> {
  const bundleDir = `${containerDir}/bundle`;
  const onResize = () => setImmediate(() => resizeThroughConmon(bundleDir));
  process.on('SIGWINCH', onResize);
  const keys = interactive ? detachKeys(session.input) : undefined;
  try {
    const ended = session.ended.then(() => 'ended' as const, () => 'ended' as const);
    const how = await Promise.race([ended, ...(keys ? [keys.typed.then(() => 'detached' as const)] : [])]);
    if (how === 'detached') session.close();
    return how === 'detached';
  } finally {
    keys?.stop();
    process.off('SIGWINCH', onResize);
  }
}
