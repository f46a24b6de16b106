import { canonicalRef, parseImageRef } from '../../oci/reference.js';
import { parsePlatform, pullImage } from '../../registry/index.js';
import type { CommandModule } from '../command.js';
import { canUnpackLayers, openStore, type GlobalOptions } from '../session.js';
import { openRegistries, stderrProgress, withRegistryOptions } from '../registry-options.js';

export const pullCommand: CommandModule = {
  name: 'pull',
  usage: 'pull <image>',
  describe: 'Pull an image from a registry into the store',
  needsNamespace: false,
  builder: (y) =>
    withRegistryOptions(
      y
        .positional('image', { type: 'string', describe: 'NAME[:TAG] or NAME@DIGEST; a name without a registry host means docker.io (and docker.io/library/ for one word)' })
        .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT] to pick from a multi-platform image (default: this machine\'s)' })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the manifest digest' }),
    ),
  handler: async (argv, env) => {
    const ref = parseImageRef(String(argv.image));
    const platform = parsePlatform(argv.platform as string | undefined);
    const registries = openRegistries(argv, env);
    const progress = stderrProgress(Boolean(argv.quiet));
    try {
      const client = registries.client(ref.registry);
      // Reaching the registry does not need the store, so the two go on at once.
      const reached = client.ping();
      reached.catch(() => undefined); // awaited below, unless the store fails to open first
      const store = await openStore(argv as GlobalOptions, env);
      await reached;
      progress.line(`Pulling ${canonicalRef(ref)}`);
      // Inside ribo's namespace (bin/ribo enters it for `pull`) or as root, layers are unpacked as they download.
      const result = await pullImage({ store, client, ref, platform, progress, unpack: canUnpackLayers(env) });
      progress.close();
      progress.line(`Pulled ${result.name ?? canonicalRef(ref)}: ${result.fetched} blob(s) fetched, ${result.present} already in the store`);
      process.stdout.write(`${result.manifest.digest}\n`);
      return 0;
    } finally {
      progress.close();
      registries.close();
    }
  },
};
