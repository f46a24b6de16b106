import { ContainerStore } from '../../run/containers.js';
import { runMonitor, type MonitorLauncher } from '../../run/supervise.js';
import { cleanupAfterConmon } from '../../run/conmon-monitor.js';
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
    return runMonitor({ driver: session.driver, runtime: session.runtime, containers, leaveStore: () => session.store.leave() }, id, cleanup);
  }),
};

/** Internal: conmon's exit command for a container it monitored (see run/conmon-monitor.ts). */
export const containerCleanupCommand: CommandModule = {
  name: 'container-cleanup',
  usage: 'container-cleanup <id>',
  describe: false,
  needsNamespace: true,
  builder: (y) => y.positional('id', { type: 'string' }),
  handler: onContainer(async (session, id) => {
    await cleanupAfterConmon(ContainerStore.ofStore(session.store.root), session.runtime, id);
    return 0;
  }),
};

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
