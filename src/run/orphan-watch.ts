/**
 * A foreground `ribo run` (or `start -a`) is its container's monitor. When
 * it is killed outright (SIGKILL, the OOM killer), nothing would end the
 * container, which would run on until the next `ribo ps` noticed the dead
 * monitor. A small shell process, started beside the container, holds one
 * end of a pipe whose other end only ribo holds: when ribo goes, the kernel
 * closes that end, the shell's `read` returns, and it runs ribo's clean-up
 * (`container-cleanup --orphaned`), which kills the container through the
 * runtime (from inside ribo's namespaces, where that works for any
 * container user), waits for its process to go, records the exit and
 * unmounts. Until then the watcher costs one idle shell, not a Node
 * process; when ribo ends normally it kills the watcher first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { isAlive } from '../files/process-identity.js';
import { monitorLost, type ContainerRecord, type ContainerStore } from './containers.js';
import { removeContainerFiles } from './lifecycle.js';
import { cleanupAfterConmon } from './conmon-monitor.js';

/** 128 + SIGKILL, what docker records for a container killed so. */
const KILLED_EXIT_CODE = 137;

export interface OrphanWatch {
  /** Ribo saw the container end: the watcher is not needed any more. */
  stop(): void;
}

/** Only EOF (ribo gone) gets past the read: ribo never writes. */
const SCRIPT = 'read -r _ || true; exec "$@"';

/** Starts the watcher; `cleanup` is ribo's command line for `container-cleanup --orphaned ID`. */
export function watchForOrphan(cleanup: string[]): OrphanWatch {
  let child: ChildProcess | undefined;
  try {
    // Its own session: a Ctrl-C on ribo's terminal is ribo's to pass on, not the watcher's.
    child = spawn('/bin/sh', ['-c', SCRIPT, 'ribo-orphan-watch', ...cleanup], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  } catch {
    // Only a safety net: without it the next `ribo ps` cleans up, as before.
  }
  return {
    stop: () => {
      try {
        child?.kill('SIGKILL');
      } catch {
        // gone already
      }
    },
  };
}

/**
 * `ribo container-cleanup --orphaned ID`, the watcher's clean-up: kills the
 * container its killed monitor left, waits for its process to go, records
 * the exit (137, as a SIGKILLed container) with the reason, then unmounts
 * and removes what the runtime left as after conmon (and the container with --rm).
 */
export async function cleanupOrphaned(containers: ContainerStore, runtime: OciRuntime, id: string): Promise<void> {
  const record = await containers.read(id).catch(() => undefined);
  if (record?.waiter) return abandonWaited(containers, runtime, record);
  // Recorded already: ribo saw the end after all, or a later command recovered it.
  if (!record || !monitorLost(record)) return;
  await runtime.kill(record.runtimeId, 'KILL');
  for (let i = 0; i < 200 && record.pid && isAlive(record.pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  await containers.update(id, {
    status: 'exited',
    exitCode: KILLED_EXIT_CODE,
    finishedAt: new Date().toISOString(),
    error: `ribo (pid ${record.monitor.pid}), which ran this container in the foreground, was killed; the container was ended with it.`,
  });
  await cleanupAfterConmon(containers, runtime, id);
}

/**
 * The same for a container conmon monitors, whose killed foreground ribo
 * was its `waiter` (terminal-session.ts): the container is killed through
 * the runtime, and conmon's clean-up records it (137) and, the waiter being
 * gone, removes it with --rm; one that had ended already and was left for
 * the waiter to remove is removed here.
 */
async function abandonWaited(containers: ContainerStore, runtime: OciRuntime, record: ContainerRecord): Promise<void> {
  if (record.waiter && isAlive(record.waiter)) return;
  if (record.status === 'exited') {
    if (record.autoRemove) await removeContainerFiles(containers, record);
    return;
  }
  await containers.update(record.id, { error: `ribo (pid ${record.waiter!.pid}), which ran this container in the foreground, was killed; the container was ended with it.` });
  await runtime.kill(record.runtimeId, 'KILL');
}
