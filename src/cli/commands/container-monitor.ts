import { ContainerStore } from '../../run/containers.js';
import { runMonitor, type MonitorLauncher } from '../../run/supervise.js';
import { cleanupAfterConmon } from '../../run/conmon-monitor.js';
import type { CommandModule } from '../command.js';
import { openSession, type GlobalOptions } from '../session.js';

/** Internal: the process `ribo run -d` leaves with a detached container (see run/supervise.ts). */
export const containerMonitorCommand: CommandModule = {
  name: 'container-monitor',
  usage: 'container-monitor <id>',
  describe: false,
  needsNamespace: true,
  builder: (y) => y.positional('id', { type: 'string' }),
  handler: async (argv, env) => {
    const session = await openSession(argv as GlobalOptions, env);
    try {
      const containers = ContainerStore.ofStore(session.store.root);
      const cleanup = siblingCommand(session.store.root, session.runtime.name, argv['storage-driver'] as string | undefined, 'container-cleanup', String(argv.id));
      return await runMonitor({ driver: session.driver, runtime: session.runtime, containers, leaveStore: () => session.store.leave() }, String(argv.id), cleanup);
    } finally {
      await session.close();
    }
  },
};

/** Internal: conmon's exit command for a container it monitored (see run/conmon-monitor.ts). */
export const containerCleanupCommand: CommandModule = {
  name: 'container-cleanup',
  usage: 'container-cleanup <id>',
  describe: false,
  needsNamespace: true,
  builder: (y) => y.positional('id', { type: 'string' }),
  handler: async (argv, env) => {
    const session = await openSession(argv as GlobalOptions, env);
    try {
      await cleanupAfterConmon(ContainerStore.ofStore(session.store.root), session.runtime, String(argv.id));
      return 0;
    } finally {
      await session.close();
    }
  },
};

/** ribo's own command line for an internal command on container `id` of this store and runtime. */
function siblingCommand(storeRoot: string, runtime: string, storageDriver: string | undefined, command: string, id: string): string[] {
  const driver = storageDriver === undefined ? [] : ['--storage-driver', storageDriver];
  return [process.execPath, process.argv[1]!, '--root', storeRoot, '--runtime', runtime, ...driver, command, id];
}

/** Starts `ribo container-monitor ID` for this store and runtime, in the namespaces this ribo is in. */
export function monitorLauncher(storeRoot: string, runtime: string, storageDriver: string | undefined, env: NodeJS.ProcessEnv): MonitorLauncher {
  const driver = storageDriver === undefined ? [] : ['--storage-driver', storageDriver];
  return {
    execPath: process.execPath,
    args: (id) => [process.argv[1]!, '--root', storeRoot, '--runtime', runtime, ...driver, 'container-monitor', id],
    env,
  };
}
