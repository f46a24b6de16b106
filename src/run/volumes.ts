/**
 * A container's volumes, as docker gives them: named volumes (-v NAME:/path,
 * --mount type=volume) found or created in the store, an anonymous volume
 * for each of the image's VOLUME paths (and -v /path) no other mount covers,
 * an empty volume filled from the image's files at its path when the
 * container starts ("copy-up"), and podman's `U` option, which chowns a
 * mount's source to the container's user. The store's layout is
 * store/volumes.ts's.
 */
import { execa } from 'execa';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError, RiboError } from '../errors.js';
import type { Mount } from '../oci/runtime-spec.js';
import { resolveInRoot } from '../files/root-path.js';
import { removeOwnedTree } from '../runtime/namespace.js';
import { isAnonymous, VolumeStore, type VolumeRecord } from '../store/volumes.js';
import { containerMappings, namespaceId } from '../runtime/bundle.js';
import type { ContainerPlan, ContainerRecord, ContainerStore, PlannedVolume } from './containers.js';
import type { VolumeRequest } from './mount-options.js';

export interface ContainerVolumes {
  /** Every mount of the container (binds, tmpfs and volumes), parents before what is mounted below them. */
  mounts: Mount[];
  volumes: PlannedVolume[];
  /** Volume data dirs to chown to the container's user at start (`U`). */
  chownPaths: string[];
}

export class VolumeInUseError extends RiboError {}
export class CopyUpError extends RiboError {}
export class VolumeOverFileError extends RiboError {}

/** Docker mounts parents first: fewer path components first, order kept otherwise. */
function byDepth(mounts: Mount[]): Mount[] {
  const depth = (m: Mount) => m.destination.split('/').filter(Boolean).length;
  return mounts.map((m, i) => [m, i] as const).sort((a, b) => depth(a[0]) - depth(b[0]) || a[1] - b[1]).map(([m]) => m);
}

/** The image's VOLUME paths, as the config's Volumes keys, normalized. */
function imageVolumePaths(volumes: Record<string, unknown> | null | undefined): string[] {
  return Object.keys(volumes ?? {})
    .map((p) => path.posix.normalize(p.startsWith('/') ? p : `/${p}`).replace(/(.)\/$/, '$1'))
    .filter((p) => p !== '/');
}

/** Makes the host directories of -v binds that were not there, as docker's -v does (its --mount, and podman, refuse them). */
export async function makeMissingBindSources(paths: string[]): Promise<void> {
  for (const full of paths) {
    await mkdir(full, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`-v: the host path ${full} does not exist and could not be made a directory (${error.code ?? error.message}); create it first or fix the path.`);
    });
  }
}

/**
 * Finds or creates the volumes a new container mounts: those asked for, then
 * an anonymous one for each image VOLUME path no other mount targets (as
 * docker: a mount at the same path replaces the image's volume).
 */
export async function prepareContainerVolumes(storeRoot: string, requests: VolumeRequest[], binds: Mount[], imageVolumes: Record<string, unknown> | null | undefined): Promise<ContainerVolumes> {
  const seen = new Set<string>();
  for (const destination of [...binds.map((m) => m.destination), ...requests.map((r) => r.destination)]) {
    if (seen.has(destination)) throw new UsageError(`Two mounts target ${destination} (from -v, --mount or --tmpfs); give each container path once.`);
    seen.add(destination);
  }
  const implied: VolumeRequest[] = imageVolumePaths(imageVolumes)
    .filter((destination) => !seen.has(destination))
    .map((destination) => ({ destination, readonly: false, copyUp: true, chown: false }));
  const store = VolumeStore.ofStore(storeRoot);
  const result: ContainerVolumes = { mounts: [], volumes: [], chownPaths: [] };
  for (const request of [...requests, ...implied]) {
    const record: VolumeRecord = request.name === undefined ? await store.createAnonymous() : (await store.ensure(request.name)).record;
    const source = store.dataDir(record.Name);
    result.mounts.push({ destination: request.destination, type: 'bind', source, options: ['rbind', request.readonly ? 'ro' : 'rw'] });
    result.volumes.push({ name: record.Name, destination: request.destination, anonymous: request.name === undefined, copyUp: request.copyUp });
    if (request.chown) result.chownPaths.push(source);
  }
  result.mounts = byDepth([...binds, ...result.mounts]);
  return result;
}

/**
 * Docker's copy-up: an empty volume mounted where the image has a directory
 * gets that directory's files first, with their owners and modes (and the
 * directory's own owner and mode). Runs in ribo's namespace at every start,
 * so a volume that already holds data is left alone.
 */
export async function populateVolumes(storeRoot: string, rootfs: string, volumes: PlannedVolume[]): Promise<void> {
  const store = VolumeStore.ofStore(storeRoot);
  for (const volume of volumes) {
    const source = await resolveInRoot(rootfs, volume.destination);
    const kind = await lstat(source).catch(() => undefined);
    if (kind && !kind.isDirectory()) {
      // The runtime could only fail to mount a directory there, with a vaguer message (docker fails the same way).
      const hint = volume.anonymous ? 'mount a host file there (-v HOSTFILE:PATH) or leave the image\'s volumes out (--image-volume ignore)' : 'mount the volume somewhere else';
      throw new VolumeOverFileError(`${volume.destination} is a file in the image, so volume ${volume.name} (a directory) cannot be mounted there; ${hint}.`);
    }
    if (!volume.copyUp || !kind) continue;
    const data = store.dataDir(volume.name);
    const entries = await readdir(data).catch(() => undefined);
    if (entries === undefined) throw new CopyUpError(`Volume ${volume.name} has no data directory (${data}); remove it (ribo volume rm ${volume.name}) and run the container again.`);
    if (entries.length > 0) continue;
    const copied = await execa('cp', ['-aT', '--', source, data], { reject: false });
    if (copied.exitCode !== 0) {
      throw new CopyUpError(`Could not fill volume ${volume.name} from the image's ${volume.destination}: ${copied.stderr.trim() || `cp exited ${copied.exitCode}`}.`);
    }
  }
}

/** podman's `U`: chowns each path, recursively, to `uid`:`gid` (ids of ribo's namespace). */
export async function chownMountSources(paths: string[], uid: number, gid: number): Promise<void> {
  for (const target of paths) {
    const done = await execa('chown', ['-R', '-h', '--', `${uid}:${gid}`, target], { reject: false });
    if (done.exitCode !== 0) {
      throw new RiboError(`Could not chown ${target} for the mount option U: ${done.stderr.trim() || `chown exited ${done.exitCode}`}. U needs a directory you own, and the container user's ids within your subordinate range.`);
    }
  }
}

/** The containers (by name) whose plans mount each volume. */
export async function volumeUsers(containers: ContainerStore): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>();
  for (const record of await containers.list()) {
    for (const volume of record.plan.volumes ?? []) users.set(volume.name, [...(users.get(volume.name) ?? []), record.name]);
  }
  return users;
}

/**
 * `ribo volume rm`: docker's rule, a volume any container (running or not)
 * mounts cannot be removed, with or without -f; remove the container first.
 */
export async function removeVolume(storeRoot: string, containers: ContainerStore, name: string): Promise<void> {
  const store = VolumeStore.ofStore(storeRoot);
  await store.get(name);
  await store.withLock(async () => {
    const users = (await volumeUsers(containers)).get(name);
    if (users?.length) {
      throw new VolumeInUseError(`Volume ${name} is in use by container${users.length > 1 ? 's' : ''} ${users.join(', ')}; remove ${users.length > 1 ? 'them' : 'it'} first (ribo rm ${users.join(' ')}).`);
    }
    await store.remove(name, removeOwnedTree);
  });
}

/** The anonymous volumes of a removed container (`run --rm`, `rm -v`); named volumes stay. */
export async function removeAnonymousVolumes(storeRoot: string, record: ContainerRecord): Promise<void> {
  const store = VolumeStore.ofStore(storeRoot);
  for (const volume of (record.plan.volumes ?? []).filter((v) => v.anonymous)) {
    if (await store.lookup(volume.name)) await store.remove(volume.name, removeOwnedTree);
  }
}

/**
 * `ribo volume prune`: the volumes no container uses; anonymous ones only
 * unless `all` (docker 23's rule). Also deletes what a crash left half made
 * or half removed. Returns the names removed.
 */
export async function pruneVolumes(storeRoot: string, containers: ContainerStore, all: boolean): Promise<string[]> {
  const store = VolumeStore.ofStore(storeRoot);
  const removed: string[] = [];
  await store.withLock(async () => {
    const users = await volumeUsers(containers);
    for (const record of await store.list()) {
      if (users.has(record.Name) || (!all && !isAnonymous(record))) continue;
      await store.remove(record.Name, removeOwnedTree);
      removed.push(record.Name);
    }
  });
  const hourAgo = Date.now() - 3600_000;
  for (const leftover of await store.leftovers()) {
    const old = await lstat(leftover).then((s) => s.mtimeMs < hourAgo, () => false);
    if (old) await removeOwnedTree(leftover);
  }
  return removed;
}

/**
 * What a container's mounts need each time it starts, once its root file
 * system is mounted and its user known: copy-up into empty volumes, then the
 * `U` chowns, to the container user's ids as ribo's namespace sees them.
 */
export async function prepareMountsAtStart(storeRoot: string, rootfs: string, plan: ContainerPlan, user: { uid: number; gid: number }): Promise<void> {
  await populateVolumes(storeRoot, rootfs, plan.volumes ?? []);
  if (!plan.chownPaths?.length) return;
  const mappings = containerMappings(plan.spec);
  const uid = namespaceId(mappings.uid, user.uid);
  const gid = namespaceId(mappings.gid, user.gid);
  if (uid === undefined || gid === undefined) {
    throw new RiboError(`The mount option U cannot give ${plan.chownPaths.join(', ')} to the container's user ${user.uid}:${user.gid}: that id is outside ribo's ${plan.spec.idCount} ids.`);
  }
  await chownMountSources(plan.chownPaths, uid, gid);
}
