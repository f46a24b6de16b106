import { buildCacheDigests, clearBuildCache } from '../../build/cache/cache-references.js';
import { pruneStore } from '../../image/prune.js';
import { containerImages, containerLayers, ContainerStore } from '../../run/containers.js';
import type { CommandModule } from '../command.js';
import { humanSize } from '../format.js';
import { openStore, type GlobalOptions } from '../session.js';

export const pruneCommand: CommandModule = {
  name: 'prune',
  usage: 'prune',
  describe: 'Forget untagged images, delete blobs and unpacked layers no image uses (--all: the build cache\'s too)',
  // Unpacked layers hold files owned by the subordinate ids; only the namespace can delete them.
  needsNamespace: true,
  builder: (y) =>
    y
      .option('all', { type: 'boolean', default: false, describe: 'Also forget the build cache and delete the layers only it used' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'List what would be deleted, delete nothing' })
      .option('wait', { type: 'number', default: 60, describe: 'Seconds to wait for other ribo processes using the store to finish' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const dryRun = Boolean(argv.dryRun);
    let forgottenSteps = 0;
    const report = await pruneStore(store, {
      dryRun,
      // As docker: an image a container was made from stays, tagged or not.
      keepImages: () => containerImages(store.root),
      waitSeconds: Number(argv.wait),
      // A planned run checks its layers and records its container under this lock alone.
      exclusive: (collect) => ContainerStore.ofStore(store.root).whileNoneRecorded(collect),
      keep: async () => {
        const containers = await containerLayers(store.root);
        if (argv.all && !dryRun) {
          forgottenSteps = await clearBuildCache(store.root);
          return containers;
        }
        return new Set([...containers, ...(argv.all ? [] : await buildCacheDigests(store.root))]);
      },
    });
    const verb = dryRun ? 'Would delete' : 'Deleted';
    for (const image of report.images) process.stdout.write(`${verb} untagged image ${image.id}\n`);
    for (const blob of report.blobs) process.stdout.write(`${verb} blob ${blob.digest} (${humanSize(blob.size)})\n`);
    for (const layer of report.layers) process.stdout.write(`${verb} unpacked layer ${layer.diffID} (${humanSize(layer.size)})\n`);
    if (forgottenSteps) process.stdout.write(`Forgot ${forgottenSteps} cached build steps\n`);
    process.stdout.write(`${dryRun ? 'Would free' : 'Freed'} ${humanSize(report.freed)}: ${report.images.length ? `${report.images.length} untagged images, ` : ''}${report.blobs.length} blobs, ${report.layers.length} unpacked layers\n`);
    return 0;
  },
};
