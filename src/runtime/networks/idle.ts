/**
 * A network's processes (holder.ts) run only while it is in use: they start
 * with the first container and stop when the last one is gone, so nothing
 * of an idle network stays running. "In use" is a container attached (a
 * line in the DNS config, endpoints.ts) or a ribo command on its way to
 * attach one: `run --network NAME` and `start` pin the network (a file named
 * after their process) from before its holder is ensured until they end.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { currentProcess, isAlive } from '../../files/process-identity.js';
import { listEndpoints } from './endpoints.js';
import { stopNetwork } from './holder.js';
import { NetworkStore } from './store.js';

function pinsDir(networkDir: string): string {
  return path.join(networkDir, 'pins');
}

function ownPin(networkDir: string): string {
  const self = currentProcess();
  return path.join(pinsDir(networkDir), `${self.pid}.${self.start}`);
}

/** Marks the network in use by this process (the caller holds the networks lock). */
export async function pinNetwork(networkDir: string): Promise<void> {
  await mkdir(pinsDir(networkDir), { recursive: true, mode: 0o700 });
  await writeFile(ownPin(networkDir), '', { mode: 0o600 });
}

/** Pins of processes still running; dead ones' pins are removed. */
async function livePins(networkDir: string): Promise<number> {
  let live = 0;
  for (const name of await readdir(pinsDir(networkDir)).catch(() => [] as string[])) {
    const [pid, start] = name.split('.').map(Number);
    if (pid && start !== undefined && isAlive({ pid, start })) live++;
    else await rm(path.join(pinsDir(networkDir), name), { force: true });
  }
  return live;
}

/** Stops the network's processes when no container is attached and no other command pins it. */
export async function stopNetworkIfIdle(networkDir: string, network: string): Promise<void> {
  await NetworkStore.ofStore(path.dirname(path.dirname(networkDir))).withLock(async () => {
    if ((await listEndpoints(networkDir, network)).length > 0 || (await livePins(networkDir)) > 0) return;
    await stopNetwork(networkDir);
  });
}

/** Drops this process's pin and stops the network if that left it idle. */
export async function unpinNetwork(networkDir: string, network: string): Promise<void> {
  await rm(ownPin(networkDir), { force: true });
  await stopNetworkIfIdle(networkDir, network);
}
