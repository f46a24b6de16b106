import type { Digest } from '../../oci/image.js';
import { imageIdOf } from '../../store/index.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

export const rmiCommand: CommandModule = {
  name: 'rmi',
  usage: 'rmi <images..>',
  describe: 'Remove image tags (`ribo prune` then frees the space)',
  needsNamespace: false,
  builder: (y) => y.positional('images', { type: 'string', array: true, describe: 'NAME[:TAG], or an image id or digest (removes every tag of it, or an untagged image)' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    // Resolve everything first, so a typo in the last name removes nothing.
    const plans: Array<{ given: string; digest: string; tags: string[] }> = [];
    // Only index.json is read: a tag is removable whatever state its manifest, config or layers are in.
    for (const given of (argv.images as unknown[]).map(String)) {
      plans.push({ given, ...(await store.tagsNamedBy(given)) });
    }
    for (const plan of plans) {
      for (const tag of plan.tags) {
        if (await store.untag(tag)) process.stdout.write(`Untagged: ${tag}\n`);
      }
      if (plan.tags.length > 0) continue;
      // An untagged image `ribo images` lists as <none>: no longer listed, as docker deletes it; `ribo prune` frees its blobs.
      const id = await imageIdOf(store, { digest: plan.digest as Digest }).catch(() => plan.digest);
      if ((await store.forgetUntagged((entry) => entry.digest === plan.digest)).length > 0) process.stdout.write(`Deleted: ${id}\n`);
      else process.stderr.write(`${plan.given} has no tags; \`ribo prune\` removes untagged images.\n`);
    }
    return 0;
  },
};
