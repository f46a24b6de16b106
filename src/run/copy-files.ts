/**
 * `ribo cp`: files between a container and the host, with docker cp's path
 * rules (those of `cp -a`: a directory is copied as itself, `DIR/.` copies
 * what is in it, an existing directory destination receives the source).
 * Out of a container (running or not) the files are read through a fresh
 * overlay of the container's writable layer over its image; into one the
 * container must not run, and its own overlay is mounted for the copy.
 * Container paths resolve as the container sees them (symlinks stay inside
 * its root); copies out are owned by the user running ribo, copies in by root.
 */
import { execa } from 'execa';
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { RiboError, UsageError } from '../errors.js';
import { resolveInRoot } from '../files/root-path.js';
import { copyIntoRoot } from '../files/tree-copy.js';
import { capabilitiesOf, viewDirs, type Snapshotter } from '../snapshot/index.js';
import { monitorAlive, type ContainerRecord, type ContainerStore } from './containers.js';

export class CopyFilesError extends RiboError {}

export interface CopyFilesEnv {
  containers: ContainerStore;
  driver: Snapshotter;
  /** A scratch directory for the mount; removed by the caller. */
  scratch: string;
}

/** The kept writable layer must be usable again by the snapshotter that made it. */
function assertReusable(record: ContainerRecord, ref: string): void {
  if (capabilitiesOf(record.driver)?.reusesKeptUpper === false) {
    throw new UsageError(`Container ${ref} ran with the copying fallback driver; ribo cp needs one that ran with overlay or fuse-overlayfs.`);
  }
}

/** Mounts a view (the container's own, or a throwaway one over `lowers`), runs `use`, releases it. */
async function withView<T>(env: CopyFilesEnv, view: { lowers: string[]; dir?: string }, use: (rootfs: string) => Promise<T>): Promise<T> {
  const scratch = path.join(env.scratch, `cp-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const mounted = view.dir ? await env.driver.prepare({ lowers: view.lowers, dir: view.dir }) : await env.driver.view(view.lowers, scratch);
  try {
    return await use(mounted.rootfs);
  } finally {
    await mounted.release();
  }
}

/** Copies SRC out of the container to `dest` on the host. */
export async function copyFromContainer(env: CopyFilesEnv, ref: string, record: ContainerRecord, src: string, dest: string): Promise<void> {
  assertReusable(record, ref);
  const dir = env.containers.dirOf(record.id);
  // Its upper dir as the top lower dir: the container, running or not, is left alone.
  await withView(env, { lowers: [viewDirs({ lowers: [], dir }).upper, ...record.plan.lowers] }, async (rootfs) => {
    // The last component is copied as it is (a symlink stays one); the rest resolves inside the container.
    const contents = src.endsWith('/.');
    const trimmed = contents ? src.slice(0, -2) : src.replace(/\/+$/, '');
    const parent = await resolveInRoot(rootfs, path.posix.dirname(trimmed || '/'));
    const base = path.posix.basename(trimmed);
    const from = contents || base === '' ? `${await resolveInRoot(rootfs, trimmed || '/')}/.` : path.join(parent, base);
    if (!(await lstat(from.endsWith('/.') ? from.slice(0, -2) : from).catch(() => undefined))) {
      throw new CopyFilesError(`${ref}:${src} does not exist in the container.`);
    }
    const result = await execa('cp', ['-R', '-P', '--preserve=mode,timestamps,links', from, dest], { reject: false });
    if (result.exitCode !== 0) throw new CopyFilesError(`Copying ${ref}:${src} to ${dest} failed: ${result.stderr.trim()}`);
  });
}

/** Copies `src` from the host into the container at DEST; the container must not be running. */
export async function copyIntoContainer(env: CopyFilesEnv, ref: string, record: ContainerRecord, src: string, dest: string): Promise<void> {
  assertReusable(record, ref);
  if (monitorAlive(record)) {
    throw new UsageError(`Container ${ref} is running; ribo cp copies into stopped containers only (its files would change under it). Stop it first (ribo stop ${ref}).`);
  }
  const source = path.resolve(src.endsWith('/.') ? src.slice(0, -2) : src);
  const info = await lstat(source).catch(() => undefined);
  if (!info) throw new CopyFilesError(`${src} does not exist.`);
  const dir = env.containers.dirOf(record.id);
  await withView(env, { lowers: record.plan.lowers, dir }, async (rootfs) => {
    const containerDest = dest.startsWith('/') ? dest : `/${dest}`;
    const destInfo = await lstat(await resolveInRoot(rootfs, containerDest)).catch(() => undefined);
    if (!destInfo && containerDest.endsWith('/')) throw new CopyFilesError(`${ref}:${dest} is not a directory in the container; create it, or name the file to write without the trailing /.`);
    let target = containerDest;
    if (info.isDirectory()) {
      // DIR/. or a new destination: the contents; an existing directory: DIR inside it.
      target = src.endsWith('/.') || !destInfo ? `${containerDest.replace(/\/+$/, '')}/` : `${path.posix.join(containerDest, path.basename(source))}/`;
    }
    // A symlink named as the source is followed inside its directory, as COPY follows one inside the context.
    const from = await resolveInRoot(path.dirname(source), path.basename(source));
    await copyIntoRoot({ src: from, rel: path.basename(source) || '.', rootfs, dest: target, owner: { uid: 0, gid: 0 }, what: 'COPY source' });
  });
}

/**
 * `ribo cp CONTAINER:SRC -`: SRC as a tar stream on stdout, as docker
 * writes it: one entry named as SRC's last component (its contents for
 * `DIR/.`), with numeric owners. The files are copied out first, into the
 * scratch directory, then archived from there.
 */
export async function copyFromContainerAsTar(env: CopyFilesEnv, ref: string, record: ContainerRecord, src: string): Promise<void> {
  const staging = path.join(env.scratch, 'tar-out');
  await mkdir(staging);
  await copyFromContainer(env, ref, record, src, `${staging}/`);
  const trimmed = src.replace(/\/+$/, '');
  const member = src.endsWith('/.') || path.posix.basename(trimmed) === '' ? '.' : path.posix.basename(trimmed);
  const result = await execa('tar', ['--numeric-owner', '-C', staging, '-cf', '-', member], { stdout: 'inherit', reject: false });
  // The reader went away first (`| head`): said as such, with the status of a process a broken pipe ends (128 + SIGPIPE).
  if (result.signal === 'SIGPIPE') throw new CopyFilesError(`Writing ${ref}:${src} as a tar stream stopped: the program reading it closed the pipe first.`, { exitCode: 141 });
  if (result.exitCode !== 0) throw new CopyFilesError(`Writing ${ref}:${src} as a tar stream failed: ${result.stderr.trim() || `tar exited with code ${result.exitCode}`}`);
}

/**
 * `ribo cp - CONTAINER:DEST`: a tar stream on stdin unpacked into the
 * directory DEST, as docker reads it. It is unpacked into the scratch
 * directory first (GNU tar refuses members with ".." and leading "/"), then
 * copied in as a host directory's contents would be.
 */
export async function copyTarIntoContainer(env: CopyFilesEnv, ref: string, record: ContainerRecord, dest: string): Promise<void> {
  const staging = path.join(env.scratch, 'tar-in');
  await mkdir(staging);
  const result = await execa('tar', ['--no-same-owner', '-C', staging, '-xf', '-'], { stdin: 'inherit', reject: false });
  if (result.exitCode !== 0) throw new CopyFilesError(`Reading the tar stream for ${ref}:${dest} from stdin failed: ${result.stderr.trim() || `tar exited ${result.exitCode}`}`);
  await copyIntoContainer(env, ref, record, `${staging}/.`, dest.endsWith('/') ? dest : `${dest}/`);
}
