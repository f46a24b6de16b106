import { ContainerStore } from '../../run/containers.js';
import { runMonitor, type MonitorLauncher } from '../../run/supervise.js';
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
      return await runMonitor({ driver: session.driver, runtime: session.runtime, containers, leaveStore: () => session.store.leave() }, String(argv.id));
    } finally {
      await session.close();
    }
  },
};

/** Starts `ribo container-monitor ID` for this store and runtime, in the namespaces this ribo is in. */
export function monitorLauncher(storeRoot: string, runtime: string, storageDriver: string | undefined, env: NodeJS.ProcessEnv): MonitorLauncher {
  const driver = storageDriver === undefined ? [] : ['--storage-driver', storageDriver];
  return {
    execPath: process.execPath,
    args: (id) => [process.argv[1]!, '--root', storeRoot, '--runtime', runtime, ...driver, 'container-monitor', id],
    env,
  };
}
