import { ContainerStore } from '../../run/containers.js';
import { copyFromContainer, copyFromContainerAsTar, copyIntoContainer, copyTarIntoContainer } from '../../run/copy-files.js';
import { rm } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { dashOrWord } from '../options.js';
import { openSession, storeRoot, type GlobalOptions } from '../session.js';

/** CONTAINER:PATH, as docker cp reads it: a local path with a colon is written ./a:b. */
function containerPart(arg: string): { container: string; path: string } | undefined {
  if (arg.startsWith('/') || arg.startsWith('.')) return undefined;
  const colon = arg.indexOf(':');
  if (colon <= 0) return undefined;
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) || '/' };
}

export const cpCommand: CommandModule = {
  name: 'cp',
  usage: 'cp <src> <dest>',
  describe: 'Copy files between a container and the host: ribo cp CONTAINER:PATH HOSTPATH|-, or HOSTPATH|- CONTAINER:PATH (- is a tar stream)',
  needsNamespace: true,
  builder: (y) =>
    y
      .positional('src', { type: 'string', describe: 'CONTAINER:PATH or a host path' })
      .positional('dest', { type: 'string', describe: 'A host path or CONTAINER:PATH' }),
  handler: async (argv, env) => {
    // "-" is a tar stream, as docker takes it.
    const src = dashOrWord(argv.src);
    const dest = dashOrWord(argv.dest);
    const from = containerPart(src);
    const to = containerPart(dest);
    if (src === '-' && dest === '-') throw new UsageError('ribo cp - -: one side must be CONTAINER:PATH (ribo cp CONTAINER:PATH - writes a tar stream, ribo cp - CONTAINER:DIR reads one).');
    if (Boolean(from) === Boolean(to)) {
      throw new UsageError(`ribo cp copies between a container and the host: one of "${src}" and "${dest}" must be CONTAINER:PATH and the other a host path (write a host path with a colon as ./a:b).`);
    }
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    const ref = (from ?? to)!.container;
    const record = await containers.find(ref);
    // The container's writable layer is in its driver's encoding: mount it with that driver.
    const session = await openSession({ ...(argv as GlobalOptions), runtime: record.runtime, storageDriver: record.driver || undefined }, env);
    const scratch = await session.store.makeTempDir('cp-');
    try {
      const copyEnv = { containers, driver: session.driver, scratch };
      if (from && dest === '-') await copyFromContainerAsTar(copyEnv, ref, record, from.path);
      else if (from) await copyFromContainer(copyEnv, ref, record, from.path, dest);
      else if (src === '-') await copyTarIntoContainer(copyEnv, ref, record, to!.path);
      else await copyIntoContainer(copyEnv, ref, record, src, to!.path);
      return 0;
    } finally {
      await rm(scratch, { recursive: true, force: true });
      await session.close();
    }
  },
};
