/**
 * Networks between containers as containers use them: which containers a
 * network has (any state: a stopped container keeps its network, as in
 * docker), and removing networks none uses, which ends their holder.
 */
import { UsageError } from '../errors.js';
import { listEndpoints } from '../runtime/networks/endpoints.js';
import { runningHolder, stopNetwork } from '../runtime/networks/holder.js';
import { NetworkStore, type NetworkRecord } from '../runtime/networks/store.js';
import type { ContainerRecord, ContainerStore } from './containers.js';

export class NetworkInUseError extends UsageError {}

/** The containers of the store on network `name`. */
export async function networkUsers(containers: ContainerStore, name: string): Promise<ContainerRecord[]> {
  return (await containers.list()).filter((c) => c.plan.spec.attachment?.network === name);
}

/** What `network inspect` shows: docker's fields, with the containers attached now and their addresses. */
export async function networkInfo(networks: NetworkStore, containers: ContainerStore, record: NetworkRecord) {
  const dir = networks.dirOf(record.Name);
  const all = await containers.list();
  const attached: Record<string, { Name: string; IPv4Address: string }> = {};
  for (const endpoint of await listEndpoints(dir, record.Name)) {
    const container = all.find((c) => c.runtimeId === endpoint.id || c.id === endpoint.id);
    attached[container?.id ?? endpoint.id] = { Name: container?.name ?? endpoint.names[0] ?? '', IPv4Address: `${endpoint.ip}/24` };
  }
  return {
    Name: record.Name,
    Id: record.Id,
    Created: record.Created,
    Driver: record.Driver,
    IPAM: { Driver: 'default', Config: [{ Subnet: record.Subnet, Gateway: record.Gateway }] },
    Internal: false,
    Containers: attached,
    Labels: record.Labels,
    /** ribo's own: whether the network's holder process runs (docs/architecture.md). */
    Running: (await runningHolder(dir)) !== undefined,
  };
}

/** Ends a network's processes and removes it; refused while containers use it. */
export async function removeNetwork(networks: NetworkStore, containers: ContainerStore, name: string): Promise<void> {
  await networks.read(name);
  const users = await networkUsers(containers, name);
  if (users.length > 0) {
    const names = users.map((c) => c.name);
    throw new NetworkInUseError(`network rm ${name}: containers ${names.join(', ')} use it; remove them first (ribo rm -f ${names.join(' ')}).`);
  }
  await networks.withLock(async () => {
    await stopNetwork(networks.dirOf(name));
    await networks.remove(name);
  });
}

/** Removes every network no container uses; returns their names. */
export async function pruneNetworks(networks: NetworkStore, containers: ContainerStore): Promise<string[]> {
  const removed: string[] = [];
  for (const record of await networks.list()) {
    if ((await networkUsers(containers, record.Name)).length > 0) continue;
    await removeNetwork(networks, containers, record.Name);
    removed.push(record.Name);
  }
  return removed;
}
