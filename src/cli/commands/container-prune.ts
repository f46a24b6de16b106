import { pruneContainers } from '../../run/container-prune.js';
import type { CommandModule } from '../command.js';
import { humanSize } from '../format.js';
import { storeRoot, type GlobalOptions } from '../session.js';

/** `ribo container prune`: prints docker's report (the ids removed, then the space reclaimed). */
export async function containerPruneHandler(argv: GlobalOptions, env: NodeJS.ProcessEnv): Promise<number> {
  const report = await pruneContainers(storeRoot(argv, env));
  if (report.removed.length > 0) process.stdout.write(`Deleted Containers:\n${report.removed.map((r) => `${r.id}\n`).join('')}\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(report.reclaimed)}\n`);
  return 0;
}

/** Reached as `ribo container-prune` (and `ribo container prune` where the container management command routes it here). */
export const containerPruneCommand: CommandModule = {
  name: 'container-prune',
  usage: 'container-prune',
  describe: 'Remove every stopped container (as ribo container prune)',
  // Writable layers with files of container users are removed in a throwaway namespace (removeOwnedTree).
  needsNamespace: false,
  builder: (y) => y.option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Accepted for docker\'s scripts; ribo never asks' }),
  handler: (argv, env) => containerPruneHandler(argv as GlobalOptions, env),
};
