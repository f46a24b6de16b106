import path from 'node:path';
import { importRootfs } from '../../image/import.js';
import { normalizeImageRef } from '../../store/index.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

export const importCommand: CommandModule = {
  name: 'import',
  usage: 'import ROOTFS.tar NAME[:TAG]',
  describe: 'Make a one-layer image from a rootfs tarball',
  needsNamespace: true,
  builder: (y) => y,
  handler: async (argv, env) => {
    const positional = argv._.slice(1).map(String);
    if (positional.length !== 2) throw new UsageError('ribo import takes a rootfs tarball and an image name: ribo import ROOTFS.tar NAME[:TAG].');
    const ref = normalizeImageRef(positional[1]!);
    const store = await openStore(argv as GlobalOptions, env);
    const manifest = await importRootfs(store, path.resolve(positional[0]!), ref);
    process.stderr.write(`Imported ${positional[0]} as ${ref}\n`);
    process.stdout.write(`${manifest.digest}\n`);
    return 0;
  },
};
