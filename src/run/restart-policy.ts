/**
 * `ribo run -d --restart POLICY`: docker's restart policies, honoured by
 * whatever records a detached container's exit (conmon's exit command, or
 * the Node monitor). There is no daemon: a container is restarted only while
 * that process chain lives, so nothing survives a reboot unless a service
 * manager starts ribo again (docs/unsupported.md).
 *
 * `ribo stop`, `kill` and `rm -f` leave a marker file in the container's dir
 * before they signal it, as docker's "manually stopped" flag: the exit they
 * cause is never followed by a restart. `ribo start` removes the marker.
 */
import { rm, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { currentProcess, isAlive } from '../files/process-identity.js';
import { NoSuchContainerError, type ContainerRecord, type ContainerStore, type RestartPolicy } from './containers.js';


/** The first wait before a restart, doubled for each restart since (docker's back-off), and its cap. */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const STOP_MARKER = 'stop-requested';

/** "no", "on-failure", "on-failure:3", "always", "unless-stopped" (from --restart). */
export function parseRestartPolicy(value: string): RestartPolicy {
  const [name, count, ...rest] = value.split(':');
  const fail = (why: string): never => {
    throw new UsageError(`Invalid --restart value "${value}": ${why}. Use no, on-failure[:MAX-RETRIES], always or unless-stopped.`);
  };
  if (rest.length > 0) fail('too many ":"');
  if (name !== 'no' && name !== 'on-failure' && name !== 'always' && name !== 'unless-stopped') fail(`"${name}" is not a restart policy`);
  if (count !== undefined && name !== 'on-failure') fail('only on-failure takes a maximum retry count');
  if (count !== undefined && !/^\d+$/.test(count)) fail(`the maximum retry count "${count}" is not a whole number`);
  return { name: name as RestartPolicy['name'], maximumRetryCount: count === undefined ? 0 : Number(count) };
}

function markerPath(containers: ContainerStore, id: string): string {
  return path.join(containers.dirOf(id), STOP_MARKER);
}

/** Said by `ribo stop`, `kill` and `rm -f` before they signal: this exit is wanted. */
export async function markStopRequested(containers: ContainerStore, record: ContainerRecord): Promise<void> {
  if (!record.restartPolicy || record.restartPolicy.name === 'no') return;
  await writeFile(markerPath(containers, record.id), '').catch(() => undefined);
}

/** Said by `ribo start`: the policy applies again. */
export async function clearStopRequested(containers: ContainerStore, id: string): Promise<void> {
  await rm(markerPath(containers, id), { force: true });
}

async function stopRequested(containers: ContainerStore, id: string): Promise<boolean> {
  return access(markerPath(containers, id)).then(() => true, () => false);
}

/** Whether the policy asks for another run after this exit (the marker aside). */
export function policyWantsRestart(record: ContainerRecord): boolean {
  const policy = record.restartPolicy;
  if (!policy || policy.name === 'no' || record.autoRemove) return false;
  if (policy.name === 'always' || policy.name === 'unless-stopped') return true;
  if ((record.exitCode ?? 0) === 0) return false;
  return policy.maximumRetryCount === 0 || (record.restartCount ?? 0) < policy.maximumRetryCount;
}

/**
 * Whether the exit about to be recorded will be followed by a restart. The
 * exit is recorded with `restarting` already set, so that no reader (inspect,
 * ps, container prune, a test waiting for the container to settle) sees it
 * settled in the moment before restartIfWanted takes over.
 */
export async function restartFollows(containers: ContainerStore, record: ContainerRecord, exitCode: number): Promise<boolean> {
  return policyWantsRestart({ ...record, status: 'exited', exitCode }) && !(await stopRequested(containers, record.id));
}

/** True while a process waits to restart the container (ps: "Restarting"). */
export function isRestarting(record: ContainerRecord): boolean {
  return record.status === 'exited' && record.restarting === true && isAlive(record.monitor);
}

/**
 * Called once a detached container's exit is recorded: when its policy asks
 * for it and nobody stopped it, waits docker's back-off (the record says
 * restarting meanwhile, with this process as its monitor), then has `start`
 * run it again over the same writable layer. Returns whether it did.
 */
export async function restartIfWanted(containers: ContainerStore, id: string, start: (record: ContainerRecord) => Promise<void>): Promise<boolean> {
  const record = await containers.read(id).catch(() => undefined);
  if (!record || record.status !== 'exited') return false;
  if (!policyWantsRestart(record) || (await stopRequested(containers, id))) {
    // Stopped since the exit was recorded as to be followed by a restart (restartFollows).
    if (record.restarting) await containers.update(id, { restarting: false }).catch(() => undefined);
    return false;
  }
  const count = record.restartCount ?? 0;
  await containers.update(id, { restarting: true, monitor: currentProcess() });
  // The back-off, watching for a stop (which then returns at once, not after the whole wait).
  const deadline = Date.now() + Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** count);
  while (Date.now() < deadline && !(await stopRequested(containers, id))) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, deadline - Date.now())));
  }
  let current: ContainerRecord;
  try {
    current = await containers.read(id);
  } catch (error) {
    if (error instanceof NoSuchContainerError) return false; // removed meanwhile
    throw error;
  }
  if (current.status !== 'exited' || (await stopRequested(containers, id))) {
    await containers.update(id, { restarting: false }).catch(() => undefined);
    return false;
  }
  // Still "restarting" until the start writes the record as created: no reader sees it settled in between.
  await containers.update(id, { restartCount: count + 1 });
  try {
    await start(await containers.read(id));
  } catch (error) {
    await containers.update(id, { restarting: false }).catch(() => undefined);
    throw error;
  }
  return true;
}
