import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { importRootfs } from '../../image/import.js';
import { normalizeImageRef } from '../../oci/reference.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { asCompression, compressionOption, dashOrWord } from '../options.js';
import { onePlatform } from '../build-flags.js';
import { openStore, type GlobalOptions } from '../session.js';
import { imageIdOf } from '../../store/index.js';

/** The image's creation time: SOURCE_DATE_EPOCH when set (for reproducible imports), else now. */
function creationTime(env: NodeJS.ProcessEnv): Date {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === '') return new Date();
  if (!/^\d+$/.test(value)) throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (got "${value}").`);
  return new Date(Number(value) * 1000);
}

export const importCommand: CommandModule = {
  name: 'import',
  usage: 'import <tarball> <name>',
  describe: 'Make a one-layer image from a rootfs tarball',
  needsNamespace: true,
  builder: (y) =>
    y
      .positional('tarball', { type: 'string', describe: 'A plain rootfs tarball (e.g. from mmdebstrap --format=tar), or - for stdin' })
      .positional('name', { type: 'string', describe: 'NAME[:TAG] for the image' })
      .option('compression', compressionOption)
      .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT] of the rootfs (default: this machine\'s); the name then holds it beside its other platforms' }),
  handler: async (argv, env) => {
    // "-" is stdin, as docker import takes it.
    const tarball = dashOrWord(argv.tarball);
    const ref = normalizeImageRef(String(argv.name));
    const store = await openStore(argv as GlobalOptions, env);
    const platform = argv.platform === undefined ? undefined : onePlatform(argv.platform);
    // The tarball is read twice (importRootfs): stdin is first copied to a file of the store's.
    const spool = tarball === '-' ? await store.makeTempDir('import-') : undefined;
    let manifest;
    try {
      const file = spool ? path.join(spool, 'rootfs.tar') : path.resolve(tarball);
      if (spool) await pipeline(process.stdin, createWriteStream(file, { mode: 0o600 }));
      manifest = await importRootfs(store, file, ref, creationTime(env), asCompression(argv.compression), platform, tarball);
    } finally {
      if (spool) await rm(spool, { recursive: true, force: true });
    }
    process.stderr.write(`Imported ${tarball === '-' ? 'stdin' : tarball} as ${ref}\n`);
    // The image id, as docker import prints it: the config digest.
    process.stdout.write(`${await imageIdOf(store, manifest)}\n`);
    return 0;
  },
};
