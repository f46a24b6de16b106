import { ContainerStore } from '../../run/containers.js';
import { waitForExit } from '../../run/lifecycle.js';
import { RiboError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { forEachName } from '../each-name.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export class ContainerGoneError extends RiboError {}

export const waitCommand: CommandModule = {
  name: 'wait',
  usage: 'wait <containers..>',
  describe: 'Wait until containers exit, then print their exit codes',
  needsNamespace: false,
  builder: (y) => y.positional('containers', { type: 'string', array: true, describe: 'Container names or ids' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    return forEachName((argv.containers as unknown[]).map(String), async (ref) => {
      const record = await containers.find(ref);
      const done = await waitForExit(containers, root, record.id, Number.MAX_SAFE_INTEGER);
      if (done?.exitCode === undefined) throw new ContainerGoneError(`Container ${ref} was removed (it ran with --rm) before its exit code could be read.`);
      process.stdout.write(`${done.exitCode}\n`);
    });
  },
};
