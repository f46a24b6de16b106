import { UsageError } from '../../errors.js';
import { registryOfLoginArg } from '../../registry/index.js';
import type { CommandModule } from '../command.js';
import { credentialStore, withRegistryOptions } from '../registry-options.js';

export const logoutCommand: CommandModule = {
  name: 'logout',
  usage: 'logout [registry]',
  describe: 'Remove the stored credentials of a registry',
  needsNamespace: false,
  builder: (y) =>
    withRegistryOptions(
      y
        .positional('registry', { type: 'string', describe: 'HOST[:PORT] of the registry' })
        .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Remove the credentials of every registry' }),
    ),
  handler: async (argv, env) => {
    if (!argv.all && argv.registry === undefined) throw new UsageError('Name the registry to log out of (ribo logout localhost:5000), or pass --all.');
    const registry = argv.all ? 'all' : registryOfLoginArg(String(argv.registry));
    const changed = await credentialStore(argv, env).remove(registry);
    if (changed.length === 0) {
      if (registry === 'all') {
        process.stderr.write('No stored credentials to remove.\n');
        return 0;
      }
      throw new UsageError(`Not logged in to ${registry}: no credentials for it in ${credentialStore(argv, env).loginFile} or ~/.docker/config.json.`);
    }
    process.stderr.write(`Removed login credentials for ${registry === 'all' ? 'every registry' : registry} from ${changed.join(', ')}\n`);
    return 0;
  },
};
