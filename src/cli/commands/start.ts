import { ContainerStore } from '../../run/containers.js';
import { prepareRestart } from '../../run/lifecycle.js';
import { launchMonitor, superviseContainer } from '../../run/supervise.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { openSession, storeRoot, type GlobalOptions } from '../session.js';
import { monitorLauncher } from './container-monitor.js';

export const startCommand: CommandModule = {
  name: 'start',
  usage: 'start <containers..>',
  describe: 'Start exited containers again, over the writable layer they kept',
  needsNamespace: true,
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, describe: 'Container names or ids' })
      .option('attach', { alias: 'a', type: 'boolean', default: false, describe: 'Stay with the container, show its output and exit with its exit code' }),
  handler: async (argv, env) => {
    const refs = (argv.containers as unknown[]).map(String);
    if (argv.attach && refs.length > 1) throw new UsageError('ribo start -a attaches to one container at a time; name only one.');
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    for (const ref of refs) {
      const record = await containers.find(ref);
      if (record.driver === 'copy') {
        throw new UsageError(`Container ${ref} ran with the copying fallback driver, which cannot lay its kept writable layer over the image again; ribo start needs overlay or fuse-overlayfs. Run a new container instead (ribo run).`);
      }
      // The same driver and runtime as before: the writable layer is in that driver's encoding.
      const session = await openSession({ ...(argv as GlobalOptions), runtime: record.runtime, storageDriver: record.driver }, env);
      try {
        const fresh = await prepareRestart(containers, root, record);
        if (!fresh) {
          if (argv.attach) throw new UsageError(`Container ${ref} is already running; use ribo logs -f ${ref} to follow it.`);
        } else if (argv.attach) {
          return await superviseContainer({ driver: session.driver, runtime: session.runtime, containers, leaveStore: () => session.store.leave() }, fresh, 'foreground');
        } else {
          await launchMonitor(containers, fresh, monitorLauncher(root, record.runtime, record.driver, env));
        }
      } finally {
        await session.close();
      }
      process.stdout.write(`${ref}\n`);
    }
    return 0;
  },
};
