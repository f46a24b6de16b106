import { ContainerStore } from '../../run/containers.js';
import { removeContainer } from '../../run/lifecycle.js';
import type { CommandModule } from '../command.js';
import { forEachName } from '../each-name.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export const rmCommand: CommandModule = {
  name: 'rm',
  usage: 'rm <containers..>',
  describe: 'Remove containers: their writable layer, log and record',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, describe: 'Container names or ids' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Kill a running container first' })
      .option('volumes', { alias: 'v', type: 'boolean', default: false, describe: 'Also remove the container\'s anonymous volumes' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    return forEachName((argv.containers as unknown[]).map(String), async (ref) => {
      const record = await containers.find(ref);
      await removeContainer(containers, root, record, Boolean(argv.force), Boolean(argv.volumes));
      process.stdout.write(`${ref}\n`);
    });
  },
};
