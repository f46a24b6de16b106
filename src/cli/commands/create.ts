import { createIdleContainer } from '../../run/run-image.js';
import type { CommandModule } from '../command.js';
import { joinsOtherNamespace } from '../network-namespace.js';
import { withContainerOptions, withContainerToMake } from '../run-flags.js';

/**
 * `ribo create`: a container made from an image as `ribo run -d` makes it,
 * not started (docker's Created state). `ribo start` runs it, `ribo cp`
 * copies files out of (or into) it before that, `ribo rm` removes it.
 */
export const createCommand: CommandModule = {
  name: 'create',
  usage: 'create <image> [command..]',
  describe: 'Create a container from an image without starting it (ribo start runs it); prints its id',
  needsNamespace: (argv) => !joinsOtherNamespace(argv.network),
  builder: (y) => withContainerOptions(y),
  handler: (argv, env) =>
    withContainerToMake(argv, env, true, async (options) => {
      const record = await createIdleContainer(options);
      process.stdout.write(`${record.id}\n`);
      return 0;
    }),
};
