import { ContainerStore } from '../../run/containers.js';
import { runMonitor } from '../../run/supervise.js';
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
