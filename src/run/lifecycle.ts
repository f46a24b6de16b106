/**
 * What other ribo commands do to containers that outlive one command: send
 * them signals, wait for them, remove them, and clean up after a monitor that
 * died (ribo SIGKILLed, the machine's OOM killer) without recording the end.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { releaseEndpoint } from '../runtime/networks/connect.js';
import { UsageError, RiboError } from '../errors.js';
import { removeOwnedTree } from '../runtime/namespace.js';
import { runtimeStateDir } from '../runtime/oci-runtime.js';
import { currentProcess, isAlive } from '../files/process-identity.js';
import { removeAnonymousVolumes } from './volumes.js';
import { clearStopRequested, isRestarting, markStopRequested } from './restart-policy.js';
import { monitorAlive, monitorLost, shortId, type ContainerRecord, type ContainerStore } from './containers.js';
import { conmonDirs, conmonRecordedExit } from './conmon-files.js';
import { parseSignal } from './signals.js';

export class ContainerRunningError extends RiboError {}
export class ContainerNotRunningError extends RiboError {}

/** Exit code recorded for a container whose end nobody saw (as docker does after a daemon crash). */
export const UNKNOWN_EXIT_CODE = 255;

const POLL_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `signal` to the container's first process, straight from this
 * process: the user who owns ribo's user namespace may signal every process
 * in it. Returns false when the container no longer runs.
 */
export function signalContainer(record: ContainerRecord, signal: NodeJS.Signals): boolean {
  if (record.status !== 'running' || !record.pid || !isAlive(record.pid)) return false;
  try {
    process.kill(record.pid.pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new RiboError(`Could not send ${signal} to container ${record.name} (pid ${record.pid.pid}): ${(error as Error).message}`);
  }
}

/**
 * Waits until the container has exited (its monitor recorded the exit, or
 * died and was cleaned up after) or `timeoutMs` passed; returns the record
 * as it then is. With `monitorGone`, also waits for the monitor to finish.
 */
export async function waitForExit(containers: ContainerStore, storeRoot: string, id: string, timeoutMs: number, monitorGone = false): Promise<ContainerRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await containers.read(id).catch(() => undefined);
    if (!record) return undefined;
    const done = record.status === 'exited' && (!monitorGone || !isAlive(record.monitor));
    if (done) return record;
    if (monitorLost(record)) return recoverContainer(containers, storeRoot, record);
    if (Date.now() >= deadline) return record;
    await sleep(POLL_MS);
  }
}

/**
 * Whether the container is being started: created, or running with no
 * process known yet (a planned run, bin/run-plan.sh, is recorded running
 * before the runtime has written the pid file).
 */
function starting(record: ContainerRecord): boolean {
  return record.status === 'created' || (record.status === 'running' && !record.pid);
}

/** Waits (up to 30 s) until a container being started runs with a known process or has failed to. */
async function waitWhileStarting(containers: ContainerStore, id: string): Promise<ContainerRecord | undefined> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const record = await containers.read(id).catch(() => undefined);
    if (!record || !starting(record) || !isAlive(record.monitor) || Date.now() >= deadline) return record;
    await sleep(POLL_MS);
  }
}

/** The record of a container once any start under way has settled, so that a signal reaches its process (ribo stop, kill). */
export async function startSettled(containers: ContainerStore, record: ContainerRecord): Promise<ContainerRecord> {
  if (!starting(record) || !monitorAlive(record)) return record;
  return (await waitWhileStarting(containers, record.id)) ?? record;
}

/** docker's wait between the stop signal and SIGKILL. */
export const DEFAULT_STOP_SECONDS = 10;

/**
 * `ribo stop`: --stop-signal or the image's STOPSIGNAL (else SIGTERM), then
 * SIGKILL when the container has not exited after `timeoutSeconds` (when
 * not given: its --stop-timeout, else docker's 10 s).
 */
export async function stopContainer(containers: ContainerStore, storeRoot: string, record: ContainerRecord, timeoutSeconds: number | undefined, signal?: NodeJS.Signals): Promise<ContainerRecord | undefined> {
  const seconds = timeoutSeconds ?? record.stopTimeout ?? DEFAULT_STOP_SECONDS;
  const first = signal ?? (record.stopSignal ? parseSignal(record.stopSignal, `the container's stop signal (--stop-signal or the image's STOPSIGNAL)`) : 'SIGTERM');
  // Said before the signal: the exit it causes must not start a restart (and a pending restart is called off).
  await markStopRequested(containers, record);
  // A --restart policy's back-off (it sees the marker and gives up), or a start under way: stop what comes of it.
  if (isRestarting(record)) return waitForExit(containers, storeRoot, record.id, 30_000, true);
  record = await startSettled(containers, record);
  if (!signalContainer(record, first)) return waitForExit(containers, storeRoot, record.id, 0);
  const after = await waitForExit(containers, storeRoot, record.id, seconds * 1000);
  if (!after || after.status === 'exited') return after;
  signalContainer(after, 'SIGKILL');
  return waitForExit(containers, storeRoot, record.id, 30_000);
}

/** Processes whose command line mentions `text` (the runtime and fuse-overlayfs of one container). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(name));
  }
  return pids;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already, or not ours to kill
  }
}

/**
 * Cleans up after a container whose monitor died: kills the container and
 * the helpers left holding it (runtime, fuse-overlayfs), after which the
 * kernel drops its namespaces and mounts; removes the runtime's state; then
 * marks it exited, or removes it entirely when it was run with --rm.
 * `seen` is the record as the caller read it before it found the monitor
 * gone; the record is read again here (see below).
 */
export async function recoverContainer(containers: ContainerStore, storeRoot: string, seen: ContainerRecord): Promise<ContainerRecord | undefined> {
  // A monitor records the exit just before it ends (conmon waits for its
  // clean-up), so a record read before the monitor was seen gone may predate
  // that: under load `ribo stop` read "running", the clean-up then recorded
  // exit 0, conmon ended, and a recovery from the stale record overwrote the
  // recorded exit with its own guess (255). Read after the monitor is gone,
  // the record is final.
  const record = await containers.read(seen.id).catch(() => undefined);
  if (!record) return undefined; // its clean-up removed it (--rm)
  if (!monitorLost(record)) return record;
  if (record.pid && isAlive(record.pid)) {
    killQuietly(record.pid.pid);
    for (let i = 0; i < 100 && isAlive(record.pid); i++) await sleep(POLL_MS);
    if (isAlive(record.pid)) return record; // not ours to kill from here; a later command run as the user will
  }
  for (const pid of await processesMentioning(containers.dirOf(record.id))) killQuietly(pid);
  // Its address and names off its network (which stops when that left it idle).
  await releaseEndpoint(path.join(containers.dirOf(record.id), 'bundle')).catch(() => undefined);
  await rm(path.join(runtimeStateDir(storeRoot, record.runtime), record.runtimeId), { recursive: true, force: true });
  // conmon wrote how the container ended before its clean-up ran (which failed, or was killed): that code, not an unknown one.
  const recorded = record.exitCode === undefined ? await conmonRecordedExit(containers, record) : undefined;
  const finished: ContainerRecord = {
    ...record,
    status: 'exited',
    exitCode: record.exitCode ?? recorded ?? UNKNOWN_EXIT_CODE,
    finishedAt: record.finishedAt ?? new Date().toISOString(),
    error:
      record.error ??
      (recorded === undefined
        ? `ribo's monitor process (pid ${record.monitor.pid}) ended without recording how the container ended; it was cleaned up afterwards.`
        : `the clean-up after the container's exit did not finish (see ${conmonDirs(containers, record.id).diagnostics}); it was cleaned up afterwards.`),
  };
  if (record.autoRemove) {
    await removeContainerFiles(containers, finished, storeRoot);
    return undefined;
  }
  await containers.write(finished);
  return finished;
}

/** Recovers every container whose monitor died while it was created or running. */
export async function recoverContainers(containers: ContainerStore, storeRoot: string): Promise<void> {
  for (const record of await containers.list()) {
    if (monitorLost(record)) await recoverContainer(containers, storeRoot, record);
  }
}

/**
 * Removes the container's dir (writable layer, bundle, log, record) and the
 * runtime's state of it; its anonymous volumes too when it was run with
 * --rm or `volumes` is set (`ribo rm -v`), as docker does.
 */
export async function removeContainerFiles(containers: ContainerStore, record: ContainerRecord, storeRoot?: string, volumes = record.autoRemove): Promise<void> {
  if (storeRoot) await rm(path.join(runtimeStateDir(storeRoot, record.runtime), record.runtimeId), { recursive: true, force: true });
  await removeOwnedTree(containers.dirOf(record.id));
  if (volumes) await removeAnonymousVolumes(storeRoot ?? path.dirname(containers.dir), record);
}

/** `ribo rm`: a running container only with `force` (killed first); its anonymous volumes with `volumes` (-v). */
export async function removeContainer(containers: ContainerStore, storeRoot: string, record: ContainerRecord, force: boolean, volumes = false): Promise<void> {
  let current: ContainerRecord | undefined = record;
  if (isRestarting(record)) {
    if (!force) throw new ContainerRunningError(`Container ${record.name} (${shortId(record.id)}) is restarting (its --restart policy); stop it first (ribo stop ${record.name}) or remove it anyway with ribo rm -f ${record.name}.`);
    await markStopRequested(containers, record);
    await waitForExit(containers, storeRoot, record.id, 30_000, true);
    current = await containers.read(record.id);
  }
  if (monitorAlive(current)) {
    if (!force) {
      throw new ContainerRunningError(`Container ${record.name} (${shortId(record.id)}) is running; stop it first (ribo stop ${record.name}) or remove it anyway with ribo rm -f ${record.name}.`);
    }
    await markStopRequested(containers, current);
    signalContainer(await startSettled(containers, current), 'SIGKILL');
    current = await waitForExit(containers, storeRoot, record.id, 30_000, true);
    if (current && isAlive(current.monitor)) {
      throw new ContainerRunningError(`Container ${record.name} did not stop within 30 s of SIGKILL; its monitor (pid ${current.monitor.pid}) is still running.`);
    }
  } else if (current.status !== 'exited') {
    current = await recoverContainer(containers, storeRoot, current);
  }
  if (current) await removeContainerFiles(containers, current, storeRoot, volumes || current.autoRemove);
}

/**
 * `ribo start`: makes an exited container ready to run again over the same
 * writable layer: its record goes back to `created`, owned by this process,
 * with the last run's pid, times, exit code and waiter cleared. Undefined when it
 * already runs.
 */
export async function prepareRestart(containers: ContainerStore, storeRoot: string, record: ContainerRecord): Promise<ContainerRecord | undefined> {
  if (monitorAlive(record)) return undefined;
  const exited = record.status === 'exited' ? record : await recoverContainer(containers, storeRoot, record);
  if (!exited) throw new ContainerNotRunningError(`Container ${record.name} was started with --rm and is gone.`);
  const { pid: _pid, startedAt: _started, finishedAt: _finished, exitCode: _code, error: _error, restarting: _restarting, waiter: _waiter, idle: _idle, ...kept } = exited;
  await clearStopRequested(containers, record.id);
  const fresh: ContainerRecord = { ...kept, status: 'created', monitor: currentProcess() };
  await containers.write(fresh);
  return fresh;
}
