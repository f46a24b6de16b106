import { ContainerStore } from '../../run/containers.js';
import { attachToContainer } from '../../run/attach.js';
import type { CommandModule } from '../command.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export const attachCommand: CommandModule = {
  name: 'attach',
  usage: 'attach <container>',
  describe: "Connect to a running container: its output as it comes, your input to it (when run with -i), until it exits (ribo exits with its code) or ctrl-p ctrl-q detaches",
  needsNamespace: false,
  builder: (y) => y.positional('container', { type: 'string', describe: 'Container name or id' }),
  handler: async (argv, env) => {
    const containers = ContainerStore.ofStore(storeRoot(argv as GlobalOptions, env));
    return attachToContainer(containers, await containers.find(String(argv.container)));
  },
};
