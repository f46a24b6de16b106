import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

export const rmiCommand: CommandModule = {
  name: 'rmi',
  usage: 'rmi <images..>',
  describe: 'Remove image tags (`ribo prune` then frees the space)',
  needsNamespace: false,
  builder: (y) => y.positional('images', { type: 'string', array: true, describe: 'NAME[:TAG], or a manifest digest (removes every tag of it)' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    // Resolve everything first, so a typo in the last name removes nothing.
    const plans: Array<{ given: string; tags: string[] }> = [];
    // Only index.json is read: a tag is removable whatever state its manifest, config or layers are in.
    for (const given of (argv.images as unknown[]).map(String)) {
      plans.push({ given, tags: (await store.tagsNamedBy(given)).tags });
    }
    for (const plan of plans) {
      for (const tag of plan.tags) {
        if (await store.untag(tag)) process.stdout.write(`Untagged: ${tag}\n`);
      }
      if (plan.tags.length === 0) process.stderr.write(`${plan.given} has no tags; \`ribo prune\` removes untagged images.\n`);
    }
    return 0;
  },
};
