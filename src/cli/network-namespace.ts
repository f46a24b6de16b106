/**
 * Where a command that starts a container on a network between containers
 * (or sharing another container's network) must work: in the user namespace
 * of the network's holder, or of the other container's monitor, so the new
 * container's namespaces are ones ribo may connect (runtime/networks/holder.ts).
 */
import { UsageError } from '../errors.js';
import { ContainerStore, monitorAlive, type ContainerRecord } from '../run/containers.js';
import { ensureNetworkRunning } from '../runtime/networks/holder.js';
import { isNetworkName, NetworkStore } from '../runtime/networks/store.js';
import { pinNetwork, unpinNetwork } from '../runtime/networks/idle.js';

/** --network NAME (a network between containers) or container:NAME. */
export function joinsOtherNamespace(network: unknown): boolean {
  const value = String(network ?? 'bridge');
  return value.startsWith('container:') || isNetworkName(value);
}

/**
 * Runs `run(pid)`, with pid the process whose user namespace `--network
 * VALUE` needs. A network's holder is started when it is not running, and
 * the network pinned (idle.ts) until `run` is done, so it is not stopped
 * between here and the container's attaching; then stopped if left idle.
 */
export async function withNamespaceOwner(network: string, root: string, run: (pid: number) => Promise<number>): Promise<number> {
  if (network.startsWith('container:')) {
    const name = network.slice('container:'.length);
    const record = await ContainerStore.ofStore(root).find(name);
    if (record.status !== 'running' || !monitorAlive(record)) throw new UsageError(`--network ${network}: container ${record.name} is not running; start it first (ribo start ${record.name}).`);
    return run(record.monitor.pid);
  }
  const networks = NetworkStore.ofStore(root);
  const record = await networks.read(network);
  const dir = networks.dirOf(network);
  const holder = await networks.withLock(async () => {
    await pinNetwork(dir);
    return ensureNetworkRunning(record, dir);
  }).catch(async (error: unknown) => {
    await unpinNetwork(dir, network);
    throw error;
  });
  try {
    return await run(holder.pid);
  } finally {
    await unpinNetwork(dir, network);
  }
}

/** The --network value a container was created with, when it needs another user namespace. */
export function containerNetwork(record: ContainerRecord): string | undefined {
  if (record.plan.spec.attachment) return record.plan.spec.attachment.network;
  if (record.plan.networkContainer) return `container:${record.plan.networkContainer}`;
  return undefined;
}

/**
 * For `start`/`restart`: the one network the containers need, or undefined
 * when none does; containers needing different ones are started one at a time.
 */
export function commonNetwork(records: ContainerRecord[]): string | undefined {
  const needed = [...new Set(records.map(containerNetwork).filter((n): n is string => n !== undefined))];
  if (needed.length === 0) return undefined;
  if (needed.length > 1 || records.some((r) => containerNetwork(r) === undefined)) {
    throw new UsageError(`These containers are on different networks (${records.map((r) => `${r.name}: ${containerNetwork(r) ?? 'default'}`).join(', ')}); start them one at a time.`);
  }
  return needed[0];
}
