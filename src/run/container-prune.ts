/**
 * `ribo container prune`: removes every stopped container (exited, with no
 * restart pending), as `docker container prune` does, and says how much
 * space their directories (writable layer, log, bundle) held.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ContainerStore, type ContainerRecord } from './containers.js';
import { recoverContainers, removeContainerFiles } from './lifecycle.js';
import { isRestarting } from './restart-policy.js';

export interface ContainerPruneReport {
  removed: Array<Pick<ContainerRecord, 'id' | 'name'>>;
  /** Bytes the removed containers' directories held (what this user could see of them). */
  reclaimed: number;
}

/** The bytes under `target`; directories this user may not read (a container user's) count as empty. */
async function treeSize(target: string): Promise<number> {
  const info = await lstat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(target).catch(() => [] as string[])) total += await treeSize(path.join(target, name));
  return total;
}

export async function pruneContainers(storeRoot: string): Promise<ContainerPruneReport> {
  const containers = ContainerStore.ofStore(storeRoot);
  // Containers whose monitor died count as stopped once recovered.
  await recoverContainers(containers, storeRoot);
  const report: ContainerPruneReport = { removed: [], reclaimed: 0 };
  for (const record of await containers.list()) {
    // Stopped: exited, or made by `ribo create` and never started (docker prunes both).
    if ((record.status !== 'exited' && !record.idle) || isRestarting(record)) continue;
    const size = await treeSize(containers.dirOf(record.id));
    await removeContainerFiles(containers, record, storeRoot);
    report.removed.push({ id: record.id, name: record.name });
    report.reclaimed += size;
  }
  return report;
}
