import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UsageError } from '../../errors.js';
import { loadImages } from '../../image/archive/index.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';
import { imageIdOf } from '../../store/index.js';

export const loadCommand: CommandModule = {
  name: 'load',
  usage: 'load',
  describe: 'Load images from an archive (oci-archive or docker-archive, plain or gzip) or an OCI layout directory',
  needsNamespace: false,
  builder: (y) =>
    y
      .option('input', { alias: 'i', type: 'string', describe: 'The archive file or OCI layout directory (default: stdin)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the loaded images\' ids (config digests)' }),
  handler: async (argv, env) => {
    if (argv._.length > 1) throw new UsageError(`ribo load takes the archive as -i FILE (got also: ${argv._.slice(1).join(' ')}).`);
    const store = await openStore(argv as GlobalOptions, env);
    let input = argv.input === undefined ? '-' : String(argv.input);
    let spool: string | undefined;
    if (input === '-') {
      if (process.stdin.isTTY) throw new UsageError('ribo load reads an archive: give it with -i FILE, or redirect stdin (ribo load < FILE).');
      // The archive is read out of order, so stdin is kept in the store's scratch space first.
      spool = await store.makeTempDir('load-stdin');
      input = path.join(spool, 'archive.tar');
      await pipeline(process.stdin, createWriteStream(input));
    }
    const result = await loadImages(store, input).finally(() => (spool ? rm(spool, { recursive: true, force: true }) : undefined));
    // As docker: tagged images by name, untagged ones by image id (the config digest).
    for (const image of result.images) {
      const id = await imageIdOf(store, image.manifest);
      if (image.refs.length === 0) await store.keepUntagged(image.manifest);
      if (argv.quiet) process.stdout.write(`${id}\n`);
      else if (image.refs.length === 0) process.stdout.write(`Loaded image ID: ${id}\n`);
    }
    if (!argv.quiet) for (const ref of result.tagged) process.stdout.write(`Loaded image: ${ref}\n`);
    return 0;
  },
};
