import { UsageError } from '../../errors.js';
import { canonicalRef, parseImageRef } from '../../oci/reference.js';
import { pushImage } from '../../registry/index.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';
import { openRegistries, parseSize, stderrProgress, withRegistryOptions } from '../registry-options.js';
import { DEFAULT_CHUNK_SIZE } from '../../registry/index.js';

export const pushCommand: CommandModule = {
  name: 'push',
  usage: 'push <image> [destination]',
  describe: 'Push an image from the store to a registry',
  needsNamespace: false,
  builder: (y) =>
    withRegistryOptions(
      y
        .positional('image', { type: 'string', describe: 'The local image: NAME[:TAG], a digest or a unique prefix of one' })
        .positional('destination', { type: 'string', describe: 'Where to push it, REGISTRY/REPOSITORY[:TAG] (default: the image\'s name)' })
        .option('chunk-size', { type: 'string', describe: `Upload blobs larger than this in chunks of this size; 0 uploads every blob in one request (default ${DEFAULT_CHUNK_SIZE / 1024 / 1024}M)` })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the manifest digest' }),
    ),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const image = await store.resolveImage(String(argv.image), { wholeIndex: true });
    // A multi-platform image is pushed whole: its index, every manifest it lists and their blobs.
    const manifest = image.index?.descriptor ?? image.manifestDescriptor;
    const destination = argv.destination === undefined ? image.ref : String(argv.destination);
    if (!destination) throw new UsageError(`${argv.image} has no name to push it under; give one: ribo push ${argv.image} REGISTRY/REPOSITORY:TAG.`);
    const ref = parseImageRef(destination);
    const chunkSize = argv.chunkSize === undefined ? DEFAULT_CHUNK_SIZE : parseSize('--chunk-size', String(argv.chunkSize));
    const registries = openRegistries(argv, env);
    const progress = stderrProgress(Boolean(argv.quiet));
    try {
      progress.line(`Pushing ${manifest.digest}${image.index ? ` (an index of ${image.index.index.manifests.length} images)` : ''} to ${canonicalRef(ref)}`);
      const result = await pushImage({ store, client: registries.client(ref.registry), manifest, ref, progress, chunkSize });
      progress.close();
      progress.line(`Pushed ${canonicalRef(ref)}: ${result.uploaded} blob(s) uploaded, ${result.mounted} mounted, ${result.present} already there`);
      process.stdout.write(`${result.digest}\n`);
      return 0;
    } finally {
      progress.close();
      registries.close();
    }
  },
};
