import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';
import { formatTable, humanSize } from '../format.js';

export const imagesCommand: CommandModule = {
  name: 'images',
  usage: 'images',
  describe: 'List the images in the store',
  needsNamespace: false,
  builder: (y) => y.option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print manifest digests only' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const images = await store.listImages();
    if (argv.quiet) {
      for (const image of images) process.stdout.write(`${image.digest}\n`);
      return 0;
    }
    const rows = images.map((i) => {
      const ref = i.ref ?? '<none>';
      const colon = ref.lastIndexOf(':');
      const hasTag = colon > ref.lastIndexOf('/');
      return [hasTag ? ref.slice(0, colon) : ref, hasTag ? ref.slice(colon + 1) : '<none>', i.digest.slice(7, 19), i.created ?? '', humanSize(i.size)];
    });
    process.stdout.write(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
    return 0;
  },
};
