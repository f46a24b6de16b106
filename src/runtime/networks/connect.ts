/**
 * A container's network at start and at its end, whichever kind it is: the
 * default network's helper (network.ts) or a network between containers
 * (endpoints.ts), whose address is reserved when the bundle is written so
 * /etc/hosts can name it.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerSpec } from '../bundle.js';
import { connectNetwork, disconnectNetwork, isUserModeNetwork, networkFiles, startPasta } from '../network.js';
import { stopNetworkIfIdle } from './idle.js';
import { attachToBridge, releaseAddress, reserveAddress, type NetworkAttachment } from './endpoints.js';

interface AttachmentFile {
  attachment: NetworkAttachment;
  id: string;
  ip: string;
}

function attachmentPath(bundleDir: string): string {
  return path.join(networkFiles(bundleDir).dir, 'attachment.json');
}

/**
 * Reserves the container's address on its network and publishes its names
 * (call after prepareNetwork); returns the address.
 */
export async function reserveEndpoint(bundleDir: string, attachment: NetworkAttachment, id: string, names: string[]): Promise<string> {
  const ip = await reserveAddress(attachment, id, [...names, ...attachment.aliases]);
  const file: AttachmentFile = { attachment, id, ip };
  await writeFile(attachmentPath(bundleDir), JSON.stringify(file), { mode: 0o600 });
  return ip;
}

/** Answers the runtime hook for `spec`'s network (see connectNetwork); nothing for modes without one. */
export async function connectContainerNetwork(bundleDir: string, spec: ContainerSpec, exited: Promise<unknown>): Promise<void> {
  if (spec.network === 'named') {
    const file = JSON.parse(await readFile(attachmentPath(bundleDir), 'utf8')) as AttachmentFile;
    const ports = spec.ports ?? [];
    await connectNetwork(bundleDir, 'named', [], exited, async (netns) => {
      await attachToBridge(file.attachment, netns, file.id, file.ip);
      // Published ports: a pasta of the container's own forwards them (network.ts, portForwarderOptions).
      if (ports.length > 0) await startPasta(bundleDir, ports, true);
    });
  } else if (isUserModeNetwork(spec.network)) {
    await connectNetwork(bundleDir, spec.network, spec.ports ?? [], exited);
  }
}

/**
 * Takes the container's address and names off its network (when it is on
 * one), and stops the network if that left it idle. For the crash clean-up,
 * which has killed the container's helpers itself.
 */
export async function releaseEndpoint(bundleDir: string): Promise<void> {
  const text = await readFile(attachmentPath(bundleDir), 'utf8').catch(() => undefined);
  if (!text) return;
  const file = JSON.parse(text) as AttachmentFile;
  await releaseAddress(file.attachment, file.id);
  await rm(attachmentPath(bundleDir), { force: true });
  // The last container gone: nothing of the network stays running.
  await stopNetworkIfIdle(file.attachment.dir, file.attachment.network);
}

/** Undoes connectContainerNetwork and reserveEndpoint; harmless when nothing was set up. */
export async function disconnectContainerNetwork(bundleDir: string): Promise<void> {
  const text = await readFile(attachmentPath(bundleDir), 'utf8').catch(() => undefined);
  if (text) {
    const file = JSON.parse(text) as AttachmentFile;
    await releaseAddress(file.attachment, file.id);
    await disconnectNetwork(bundleDir);
    await stopNetworkIfIdle(file.attachment.dir, file.attachment.network);
    return;
  }
  await disconnectNetwork(bundleDir);
}
