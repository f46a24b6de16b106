/**
 * A detached container under conmon (runtime/conmon.ts): ribo's monitor
 * process mounts the container's view, writes its bundle and has conmon
 * create it, records conmon as the container's monitor, starts it, and
 * exits. conmon, left in ribo's namespaces (it keeps the mount alive),
 * holds the container's stdio pipes, logs its output, and when it ends runs
 * `ribo container-cleanup ID`, which records the exit code, unmounts the
 * view and removes what the runtime created; conmon waits for it, so the
 * recorded monitor is alive until the record says the container exited.
 *
 * Every storage driver goes this way: a kernel overlay is a mount of
 * ribo's namespace, which conmon keeps; the fuse-overlayfs daemon is a
 * process of its own there, which ends when the clean-up unmounts its view;
 * the copying driver's view is a plain tree whose changes the clean-up
 * records from the state the driver keeps beside it (snapshot/release.ts).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { prepareBundle } from '../runtime/container.js';
import { connectContainerNetwork, disconnectContainerNetwork } from '../runtime/networks/connect.js';
import { NetworkError } from '../runtime/network.js';
import { findConmon, launchConmon } from '../runtime/conmon.js';
import { conmonDirs, conmonRecordedExit } from './conmon-files.js';
import { prepareRootAtStart, startSpec } from './start-spec.js';
import { classifyStartError } from '../runtime/start-failure.js';
import { resizeTerminalOf } from '../runtime/terminal.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { capabilitiesOf, dropRuntimeStubs, releaseLeftView, type DriverName, type MountSpec, type Snapshotter, type View } from '../snapshot/index.js';
import type { ContainerSpec } from '../runtime/bundle.js';
import { processIdentity, currentProcess, isAlive } from '../files/process-identity.js';
import type { ContainerRecord, ContainerStore } from './containers.js';
import { removeContainerFiles } from './lifecycle.js';
import { restartFollows } from './restart-policy.js';

/** What starting a container needs (supervise.ts's SupervisorContext has it all). */
export interface ConmonContext {
  driver: Snapshotter;
  runtime: OciRuntime;
  containers: ContainerStore;
  /** Called once the container is created: the monitor no longer needs the image store. */
  leaveStore?: () => Promise<void>;
}

/** The attach socket conmon offers for a container (SOCK_SEQPACKET; in the bundle dir, as conmon runs with --full-attach). */
export function attachSocketPath(containers: ContainerStore, record: ContainerRecord): string {
  return path.join(containers.dirOf(record.id), 'bundle', 'attach');
}

/** A container started under conmon: its record as running, and how its bundle and view were made. */
export interface ConmonStarted {
  record: ContainerRecord;
  bundleSpec: ContainerSpec;
  mount: MountSpec;
  capabilities: View['capabilities'];
}

/**
 * Starts `record` under conmon; returns it as running, or undefined
 * (nothing done) when conmon is missing. `beforeStart` runs once the
 * container is created and conmon listens, before it starts (a foreground
 * run attaches then, so it misses none of the output).
 */
export async function startUnderConmon(ctx: ConmonContext, record: ContainerRecord, cleanupCommand: string[], beforeStart?: (bundleDir: string) => Promise<void>): Promise<ConmonStarted | undefined> {
  const conmon = await findConmon();
  if (!conmon) return undefined;
  const { containers, runtime } = ctx;
  const dir = containers.dirOf(record.id);
  let current = await containers.update(record.id, { monitor: currentProcess() });
  const view = await ctx.driver.prepare({ lowers: current.plan.lowers, dir, volatile: current.autoRemove });
  try {
    const bundleDir = path.join(dir, 'bundle');
    const bundle = await prepareBundle({
      runtime,
      rootfs: view.rootfs,
      bundleDir,
      id: current.runtimeId,
      spec: startSpec(current),
      prepare: prepareRootAtStart(containers, current),
    });
    await writeFile(path.join(dir, 'runtime-stubs.json'), JSON.stringify(bundle.runtimeStubs));
    const dirs = conmonDirs(containers, record.id);
    await rm(dirs.dir, { recursive: true, force: true });
    await mkdir(dirs.exitDir, { recursive: true });
    await mkdir(dirs.socketDir, { recursive: true });
    const pidFile = path.join(dir, 'container.pid');
    await rm(pidFile, { force: true });
    await runtime.ready();
    const launching = launchConmon(conmon, {
      runtime,
      id: current.runtimeId,
      name: current.name,
      bundleDir,
      pidFile,
      logFile: containers.logPath(record.id),
      exitDir: dirs.exitDir,
      socketDir: dirs.socketDir,
      conmonPidFile: dirs.pidFile,
      runtimeLog: path.join(dirs.dir, 'runtime.log'),
      diagnostics: dirs.diagnostics,
      exitCommand: cleanupCommand,
      env: process.env,
      terminal: current.plan.spec.terminal === true,
      stdin: current.plan.interactive === true,
    });
    // The runtime's create waits in the network hook until pasta (or slirp4netns) is attached.
    const connected = connectContainerNetwork(bundleDir, bundle.spec, launching);
    connected.catch(() => undefined);
    const { pid, conmonPid } = await launching.catch(async (error: unknown) => {
      // The network's own error (a host port in use) says more than the hook's failure it caused.
      const settled = new Promise<void>((resolve) => setTimeout(resolve, 5000));
      const networkError = await Promise.race([connected.then(() => undefined, (e: unknown) => e), settled]);
      throw networkError instanceof NetworkError ? networkError : error;
    });
    await connected;
    // The runtime leaves a new terminal 0×0; sized before the start, so the container's first look sees the size.
    const consoleSize = current.plan.spec.consoleSize;
    if (current.plan.spec.terminal && consoleSize) await resizeTerminalOf(pid, { rows: consoleSize.height, columns: consoleSize.width });
    // Recorded before the start: a container that ends at once is recorded exited by the clean-up, after this.
    current = await containers.update(record.id, {
      status: 'running',
      driver: view.driver,
      pid: processIdentity(pid) ?? { pid, start: 0 },
      monitor: processIdentity(conmonPid) ?? { pid: conmonPid, start: 0 },
      startedAt: new Date().toISOString(),
    });
    await ctx.leaveStore?.();
    await beforeStart?.(bundleDir);
    await runtime.start(current.runtimeId);
    return { record: current, bundleSpec: bundle.spec, mount: view.mount, capabilities: view.capabilities };
  } catch (error) {
    await runtime.delete(current.runtimeId).catch(() => undefined);
    // conmon runs its exit command (the clean-up, which records 255 for a container that never ran)
    // even when the create failed: once it is gone, the failure recorded below is the last word,
    // and `run -d` returns with nothing left writing into the container's dir (an `rm` right after).
    await conmonEnded(conmonDirs(containers, record.id).pidFile, CONMON_END_WAIT_MS);
    await disconnectContainerNetwork(path.join(dir, 'bundle')).catch(() => undefined);
    await view.release().catch(() => undefined);
    const exitCode = classifyStartError((error as Error).message)?.exitCode ?? 125;
    await containers.update(record.id, { status: 'exited', exitCode, finishedAt: new Date().toISOString(), error: (error as Error).message }).catch(() => undefined);
    throw error;
  }
}

const CONMON_END_WAIT_MS = 30_000;

/** Resolves once the conmon whose pid file this is has ended (or never wrote it), or after `timeoutMs`. */
async function conmonEnded(pidFile: string, timeoutMs: number): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  const identity = pid > 0 ? processIdentity(pid) : undefined;
  for (let waited = 0; identity && isAlive(identity) && waited < timeoutMs; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `ribo container-cleanup ID`, conmon's exit command: the exit code from
 * conmon's file, the view unmounted and the runtime's mount points dropped
 * from the upper dir, the runtime's state removed, the record exited (and
 * removed with --rm, unless a foreground ribo waits for the exit code: it
 * removes the container once it has read it, run/terminal-session.ts).
 */
export async function cleanupAfterConmon(containers: ContainerStore, runtime: OciRuntime, id: string): Promise<void> {
  const record = await containers.read(id);
  const dir = containers.dirOf(id);
  const recorded = await conmonRecordedExit(containers, record);
  // No exit file: the container was never started (its start failure is recorded already, or 255).
  const exitCode = recorded ?? (record.status === 'exited' ? record.exitCode : undefined) ?? 255;
  // The exit code is recorded even when a release step fails: how the container ended is what its user asked for.
  let failure: unknown;
  try {
    await releaseLeftView(capabilitiesOf(record.driver) ? (record.driver as DriverName) : undefined, { lowers: record.plan.lowers, dir });
    const stubs = JSON.parse(await readFile(path.join(dir, 'runtime-stubs.json'), 'utf8').catch(() => '[]')) as string[];
    await dropRuntimeStubs(path.join(dir, 'upper'), stubs);
    await runtime.delete(record.runtimeId);
    await disconnectContainerNetwork(path.join(dir, 'bundle'));
  } catch (error) {
    failure = error;
  }
  const finished = await containers.update(id, {
    status: 'exited',
    exitCode,
    finishedAt: new Date().toISOString(),
    // Its --restart policy's restart (container-cleanup's next step) is said at once, not after a moment that looks settled.
    restarting: !failure && (await restartFollows(containers, record, exitCode)),
    ...(failure ? { error: `cleaning up after the container: ${(failure as Error).message}` } : {}),
  });
  if (failure) throw failure;
  if (finished.autoRemove && !(finished.waiter && isAlive(finished.waiter))) await removeContainerFiles(containers, finished);
}
