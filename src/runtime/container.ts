import { lstat, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Mount } from '../oci/runtime-spec.js';
import { writeBundle, type ContainerSpec } from './bundle.js';
import type { MountDriver } from './overlay.js';
import type { ContainerStdio, OciRuntime } from './oci-runtime.js';

/** Paths the runtime mounts over; if the image lacks them the runtime creates them in the upper dir. */
const RUNTIME_MOUNTPOINTS = ['dev', 'proc', 'sys', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname'];

/** Host files shared with containers on the host network, when the image has a file to mount them on. */
const HOST_NETWORK_FILES = ['/etc/resolv.conf', '/etc/hosts'];

export interface ContainerRun {
  driver: MountDriver;
  runtime: OciRuntime;
  /** Unpacked layer dirs, top-most first. */
  lowers: string[];
  /** An empty directory of the caller's; upper, work, rootfs and bundle are made inside it. */
  workDir: string;
  spec: Omit<ContainerSpec, 'rootfs'>;
  stdio: ContainerStdio;
  id?: string;
  /** Container paths of extra mounts (RUN --mount): stubs the runtime creates for them are removed too. */
  mountTargets?: string[];
  /** Called with the mounted rootfs before the container starts (e.g. to resolve the user). */
  prepare?: (rootfs: string) => Promise<Partial<ContainerSpec>>;
  /** Where the runtime writes the container's pid; needed for `started`. */
  pidFile?: string;
  /** Called once the container's process exists, with its pid (as seen in ribo's namespace). */
  started?: (pid: number) => Promise<void>;
  /** Mount the overlay volatile (OverlayDirs): the caller syncs the upper dir itself. */
  volatile?: boolean;
  /** Told the spec the bundle was written from (the user's ids and the mounts filled in). */
  bundleWritten?: (spec: ContainerSpec) => void;
}

export interface ContainerResult {
  exitCode: number;
  /** The container's changes, in the driver's whiteout encoding; mount points the runtime made are removed. */
  upperDir: string;
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(() => true, () => false);
}

/**
 * Mount points the runtime created because the image lacked them are not the
 * container's changes: remove them (and the parents made for them) from the
 * upper dir, but only while they are still empty.
 */
/** fuse-overlayfs marks directories it creates as opaque with these two entries. */
const FUSE_OPAQUE_MARKERS = new Set(['.wh..wh..opq', '.wh..opq']);

async function onlyOpaqueMarker(dir: string): Promise<boolean> {
  const entries = await readdir(dir);
  return entries.every((name) => FUSE_OPAQUE_MARKERS.has(name));
}

async function removeRuntimeMountpoints(upper: string, missingBefore: string[]): Promise<void> {
  // Deepest first, so etc/hosts goes before etc.
  const byDepth = [...missingBefore].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const rel of byDepth) {
    const p = path.join(upper, rel);
    const info = await lstat(p).catch(() => undefined);
    if (info?.isDirectory() && (await onlyOpaqueMarker(p))) await rm(p, { recursive: true });
    else if (info?.isFile() && info.size === 0) await rm(p);
  }
}

/**
 * Mounts `lowers` with a fresh upper dir under `workDir`, calls `change` with the
 * mounted root, unmounts, and returns the upper dir holding what `change` did.
 * Build steps that need no process (COPY, WORKDIR) change the image this way.
 */
export async function changeLayers(driver: MountDriver, lowers: string[], workDir: string, change: (rootfs: string) => Promise<void>, opts: { volatile?: boolean } = {}): Promise<string> {
  const upper = path.join(workDir, 'upper');
  const work = path.join(workDir, 'work');
  const rootfs = path.join(workDir, 'rootfs');
  for (const dir of [upper, work, rootfs]) await mkdir(dir, { recursive: true });
  await driver.mount({ lowers, upper, work, target: rootfs, volatile: opts.volatile ?? false });
  try {
    await change(rootfs);
  } finally {
    await driver.unmount(rootfs);
  }
  await rm(work, { recursive: true, force: true });
  return upper;
}

const PID_FILE_POLL_MS = 20;

/**
 * Waits until the runtime has written the pid file (the process exists) and
 * calls `started`; gives up quietly when the runtime exits first.
 */
async function announceStart(pidFile: string, running: Promise<number>, started: (pid: number) => Promise<void>): Promise<void> {
  let done = false;
  void running.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      await started(pid);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, PID_FILE_POLL_MS));
  }
}

/** Runs one container over an overlay of `lowers` and a fresh upper dir, then unmounts. */
export async function runContainer(run: ContainerRun): Promise<ContainerResult> {
  const upper = path.join(run.workDir, 'upper');
  const work = path.join(run.workDir, 'work');
  const rootfs = path.join(run.workDir, 'rootfs');
  const bundle = path.join(run.workDir, 'bundle');
  for (const dir of [upper, work, rootfs, bundle]) await mkdir(dir, { recursive: true });
  const id = run.id ?? `ribo-${randomBytes(6).toString('hex')}`;
  await run.driver.mount({ lowers: run.lowers, upper, work, target: rootfs, volatile: run.volatile ?? false });
  let exitCode: number;
  const missingBefore: string[] = [];
  try {
    for (const rel of RUNTIME_MOUNTPOINTS) if (!(await exists(path.join(rootfs, rel)))) missingBefore.push(rel);
    // parents of missing files (etc/) that were missing too
    if (missingBefore.some((m) => m.startsWith('etc/')) && !(await exists(path.join(rootfs, 'etc')))) missingBefore.push('etc');
    for (const target of run.mountTargets ?? []) {
      // The target and each parent the runtime will have to create for it.
      for (let rel = target.replace(/^\/+/, ''); rel && rel !== '.'; rel = path.posix.dirname(rel)) {
        if (await exists(path.join(rootfs, rel))) break;
        if (!missingBefore.includes(rel)) missingBefore.push(rel);
      }
    }
    const extra = run.prepare ? await run.prepare(rootfs) : {};
    const mounts: Mount[] = [...(run.spec.mounts ?? [])];
    if (run.spec.network === 'host') {
      for (const file of HOST_NETWORK_FILES) {
        const target = path.join(rootfs, file);
        const isFile = await stat(target).then((s) => s.isFile(), () => false);
        if (isFile && (await exists(file))) mounts.push({ destination: file, type: 'none', source: file, options: ['rbind', 'ro'] });
      }
    }
    const bundleSpec: ContainerSpec = { ...run.spec, ...extra, mounts, rootfs };
    await writeBundle(bundle, bundleSpec);
    run.bundleWritten?.(bundleSpec);
    try {
      const running = run.runtime.run(bundle, id, run.stdio, { pidFile: run.pidFile });
      if (run.pidFile && run.started) await announceStart(run.pidFile, running, run.started);
      exitCode = await running;
    } finally {
      await run.runtime.delete(id);
    }
  } finally {
    await run.driver.unmount(rootfs);
  }
  await removeRuntimeMountpoints(upper, missingBefore);
  await rm(work, { recursive: true, force: true });
  return { exitCode, upperDir: upper };
}
