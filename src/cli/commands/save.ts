import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '../../errors.js';
import { archiveChunks, resolveSaveItems, writeArchiveFile, type ArchiveFormat } from '../../image/archive/index.js';
import type { CommandModule } from '../command.js';
import { onePlatform } from '../build-flags.js';
import { openStore, type GlobalOptions } from '../session.js';

export const saveCommand: CommandModule = {
  name: 'save',
  usage: 'save <images..>',
  describe: 'Write images to an archive (oci-archive, or docker-archive for docker/podman load)',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, describe: 'NAME[:TAG], a manifest digest, or a unique prefix of one' })
      .option('output', { alias: 'o', type: 'string', describe: 'The archive file to write (default: stdout, when it is not a terminal)' })
      .option('format', { choices: ['oci-archive', 'docker-archive'], default: 'oci-archive', describe: 'oci-archive (an OCI layout in a tar) or docker-archive (docker save\'s format)' })
      .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT]: of a multi-platform image, save only this platform\'s (oci-archive keeps the whole index without it; docker-archive, which holds one platform, takes this machine\'s)' }),
  handler: async (argv, env) => {
    const format = argv.format as ArchiveFormat;
    const output = argv.output === undefined ? undefined : String(argv.output);
    if (output === undefined && process.stdout.isTTY) {
      throw new UsageError('ribo save writes a binary archive: give a file with -o FILE, or redirect stdout (ribo save IMAGE > FILE).');
    }
    const store = await openStore(argv as GlobalOptions, env);
    const platform = argv.platform === undefined ? undefined : onePlatform(argv.platform);
    const items = await resolveSaveItems(store, ((argv.images as unknown[]) ?? []).map(String), { platform, wholeIndex: format === 'oci-archive' });
    if (output === undefined || output === '-') {
      await pipeline(Readable.from(archiveChunks(store, items, format), { objectMode: false }), process.stdout);
    } else {
      await writeArchiveFile(store, items, format, output);
      const names = items.flatMap((item) => (item.refs.length ? item.refs : [(item.index?.descriptor ?? item.image.manifestDescriptor).digest]));
      process.stderr.write(`Saved ${names.join(', ')} to ${output} (${format})\n`);
    }
    return 0;
  },
};
