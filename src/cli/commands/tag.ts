import { normalizeImageRef } from '../../oci/reference.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

export const tagCommand: CommandModule = {
  name: 'tag',
  usage: 'tag <source> <target>',
  describe: 'Give an image another name',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('source', { type: 'string', describe: 'NAME[:TAG], a manifest digest, or a unique prefix of one' })
      .positional('target', { type: 'string', describe: 'The new NAME[:TAG]' }),
  handler: async (argv, env) => {
    const target = normalizeImageRef(String(argv.target));
    const store = await openStore(argv as GlobalOptions, env);
    const image = await store.resolveImage(String(argv.source), { wholeIndex: true });
    // A name of a multi-platform image tags its index, with every platform.
    const manifest = image.index?.descriptor ?? image.manifestDescriptor;
    await store.tag(target, manifest);
    process.stderr.write(`Tagged ${manifest.digest} as ${target}\n`);
    return 0;
  },
};
