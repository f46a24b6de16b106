import { ContainerStore, type ContainerRecord } from '../../run/containers.js';
import { launchMonitor, runMonitor, type MonitorLauncher } from '../../run/supervise.js';
import { prepareRestart } from '../../run/lifecycle.js';
import { restartIfWanted } from '../../run/restart-policy.js';
import { cleanupAfterConmon } from '../../run/conmon-monitor.js';
import { cleanupOrphaned } from '../../run/orphan-watch.js';
import type { CommandModule } from '../command.js';
import { openSession, type GlobalOptions, type Session } from '../session.js';

/** The handler of an internal command on one container: a session open around `use`. */
function onContainer(use: (session: Session, id: string, argv: Record<string, unknown>) => Promise<number>): CommandModule['handler'] {
  return async (argv, env) => {
    const session = await openSession(argv as GlobalOptions, env);
    try {
      return await use(session, String(argv.id), argv);
    } finally {
      await session.close();
    }
  };
}

/** Internal: the process `ribo run -d` leaves with a detached container (see run/supervise.ts). */
export const containerMonitorCommand: CommandModule = {
  name: 'container-monitor',
  usage: 'container-monitor <id>',
  describe: false,
  needsNamespace: true,
  builder: (y) => y.positional('id', { type: 'string' }),
  handler: onContainer((session, id, argv) => {
    const containers = ContainerStore.ofStore(session.store.root);
    const cleanup = [process.execPath, ...internalCommandArgs(session.store.root, session.runtime.name, argv['storage-driver'] as string | undefined, 'container-cleanup', id)];
    const afterExit = (exited: string) => restartIfWanted(containers, exited, restarter(session, argv));
    return runMonitor({ driver: session.driver, runtime: session.runtime, containers, leaveStore: () => session.store.leave() }, id, cleanup, afterExit);
  }),
};

/** Internal: conmon's exit command for a container it monitored (see run/conmon-monitor.ts). */
export const containerCleanupCommand: CommandModule = {
  name: 'container-cleanup',
  usage: 'container-cleanup <id>',
  describe: false,
  needsNamespace: true,
  builder: (y) => y.positional('id', { type: 'string' }).option('orphaned', { type: 'boolean', default: false }),
  handler: onContainer(async (session, id, argv) => {
    const containers = ContainerStore.ofStore(session.store.root);
    // --orphaned: from the watcher of a foreground run whose ribo was killed (run/orphan-watch.ts).
    if (argv.orphaned) await cleanupOrphaned(containers, session.runtime, id);
    else await cleanupAfterConmon(containers, session.runtime, id);
    // The back-off before a restart holds no lock of the store.
    await session.store.leave();
    await restartIfWanted(containers, id, restarter(session, argv));
    return 0;
  }),
};

/** Starts an exited container again in the background, as `ribo start` does (its --restart policy asked). */
function restarter(session: Session, argv: Record<string, unknown>): (record: ContainerRecord) => Promise<void> {
  return async (record) => {
    const root = session.store.root;
    const containers = ContainerStore.ofStore(root);
    const fresh = await prepareRestart(containers, root, record);
    if (fresh) await launchMonitor(containers, fresh, monitorLauncher(root, session.runtime.name, argv['storage-driver'] as string | undefined, process.env));
  };
}

/** The command a foreground run's watcher runs should ribo be killed (run/orphan-watch.ts). */
export function orphanCleanupCommand(storeRoot: string, runtime: string, storageDriver: string | undefined, id: string): string[] {
  return [process.execPath, ...internalCommandArgs(storeRoot, runtime, storageDriver, 'container-cleanup', id), '--orphaned'];
}

/** conmon's exit command for a container this ribo runs in the foreground with a terminal (run/terminal-session.ts). */
export function conmonCleanupCommand(storeRoot: string, runtime: string, storageDriver: string | undefined, id: string): string[] {
  return [process.execPath, ...internalCommandArgs(storeRoot, runtime, storageDriver, 'container-cleanup', id)];
}

/** ribo's own arguments (after Node) for an internal command on container `id` of this store and runtime. */
function internalCommandArgs(storeRoot: string, runtime: string, storageDriver: string | undefined, command: string, id: string): string[] {
  const driver = storageDriver === undefined ? [] : ['--storage-driver', storageDriver];
  return [process.argv[1]!, '--root', storeRoot, '--runtime', runtime, ...driver, command, id];
}

/** Starts `ribo container-monitor ID` for this store and runtime, in the namespaces this ribo is in. */
export function monitorLauncher(storeRoot: string, runtime: string, storageDriver: string | undefined, env: NodeJS.ProcessEnv): MonitorLauncher {
  return {
    execPath: process.execPath,
    args: (id) => internalCommandArgs(storeRoot, runtime, storageDriver, 'container-monitor', id),
    env,
  };
}
