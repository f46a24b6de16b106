import type { CommandModule } from '../command.js';
import { openSession, type GlobalOptions } from '../session.js';
import { settleSnapshotter } from '../../snapshot/index.js';

export const infoCommand: CommandModule = {
  name: 'info',
  usage: 'info',
  describe: 'Show the store, storage driver, OCI runtime and namespace ribo uses',
  needsNamespace: true,
  builder: (y) => y.option('format', { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'Output format' }),
  handler: async (argv, env) => {
    const session = await openSession(argv as GlobalOptions, env);
    try {
      const info = {
        store: session.store.root,
        rootless: session.namespace.rootless,
        idCount: session.namespace.idCount,
        storageDriver: await settleSnapshotter(session.driver, session.store),
        runtime: session.runtime.name,
        runtimePath: session.runtime.binary,
        runtimeVersion: await session.runtime.version(),
        cgroups: session.cgroupMode,
      };
      if (argv.format === 'json') process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else {
        process.stdout.write(
          [
            `store:          ${info.store}`,
            `rootless:       ${info.rootless ? `yes (${info.idCount} ids mapped)` : 'no (running as root)'}`,
            `storage driver: ${info.storageDriver}`,
            `runtime:        ${info.runtime} (${info.runtimePath}, ${info.runtimeVersion})`,
            `cgroups:        ${info.cgroups}`,
          ].join('\n') + '\n',
        );
      }
      return 0;
    } finally {
      await session.close();
    }
  },
};
