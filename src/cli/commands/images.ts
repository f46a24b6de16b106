import { familiarName, InvalidImageRefError, parseImageRef } from '../../oci/reference.js';
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
      const [repository, tag] = repositoryAndTag(i.ref);
      return [repository, tag, i.digest.slice(7, 19), i.created ?? '', humanSize(i.size), (i.platforms ?? []).join(',')];
    });
    process.stdout.write(formatTable(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'PLATFORMS'], rows));
    return 0;
  },
};

/** The REPOSITORY and TAG columns, in docker's familiar form ("ubuntu", "localhost/app"). */
function repositoryAndTag(ref: string | undefined): [string, string] {
  if (ref === undefined) return ['<none>', '<none>'];
  try {
    const parsed = parseImageRef(ref);
    return [familiarName(parsed), parsed.tag ?? '<none>'];
  } catch (error) {
    if (error instanceof InvalidImageRefError) return [ref, '<none>']; // a name another tool wrote
    throw error;
  }
}
