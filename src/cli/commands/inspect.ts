import { inspectImage } from '../../image/inspect.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

export const inspectCommand: CommandModule = {
  name: 'inspect',
  usage: 'inspect <images..>',
  describe: "Show images' manifest digest, config, manifest and layers as JSON",
  needsNamespace: false,
  builder: (y) => y.positional('images', { type: 'string', array: true, describe: 'NAME[:TAG], a manifest digest, or a unique prefix of one' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const refs = (argv.images as unknown[]).map(String);
    const inspected = [];
    for (const ref of refs) inspected.push(await inspectImage(store, ref));
    process.stdout.write(`${JSON.stringify(inspected, null, 2)}\n`);
    return 0;
  },
};
