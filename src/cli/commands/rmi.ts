import type { Digest } from '../../oci/image.js';
import { imageIdOf } from '../../store/index.js';
import { ContainerStore, shortId } from '../../run/containers.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

export class ImageInUseError extends UsageError {}

export const rmiCommand: CommandModule = {
  name: 'rmi',
  usage: 'rmi <images..>',
  describe: 'Remove image tags (`ribo prune` then frees the space)',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, describe: 'NAME[:TAG], or an image id or digest (removes every tag of it, or an untagged image)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Untag an image a container uses too (its layers stay until the container is removed)' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const records = await ContainerStore.ofStore(store.root).list();
    // Resolve everything first, so a typo in the last name removes nothing.
    const plans: Array<{ given: string; digest: string; tags: string[] }> = [];
    const removed = new Map<string, Set<string>>();
    // Only index.json is read: a tag is removable whatever state its manifest, config or layers are in.
    for (const given of (argv.images as unknown[]).map(String)) {
      const plan = { given, ...(await store.tagsNamedBy(given)) };
      plans.push(plan);
      const gone = removed.get(plan.digest) ?? new Set<string>();
      for (const tag of plan.tags) gone.add(tag);
      removed.set(plan.digest, gone);
      // As docker: the last tag of an image a container uses goes only with -f (the container keeps its layers either way).
      const user = records.find((r) => r.imageDigest === plan.digest);
      const allTags = (await store.tagsNamedBy(plan.digest)).tags;
      if (user && !argv.force && allTags.every((tag) => gone.has(tag))) {
        throw new ImageInUseError(`Image ${given} is used by container ${user.name} (${shortId(user.id)}, ${user.status}); remove that container first (ribo rm ${user.status === 'exited' ? '' : '-f '}${user.name}), or untag the image anyway with ribo rmi -f ${given}.`);
      }
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
