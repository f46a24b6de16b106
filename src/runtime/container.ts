import { lstat, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Mount } from '../oci/runtime-spec.js';
import { writeBundle, type ContainerSpec } from './bundle.js';
import type { ContainerStdio, OciRuntime } from './oci-runtime.js';
import { needsNetworkHook, networkHook, prepareNetwork } from './network.js';
import { connectContainerNetwork, disconnectContainerNetwork, reserveEndpoint } from './networks/connect.js';
import { hostAddress, networkFileMounts } from './network-files.js';

/** Paths the runtime mounts over; if the image lacks them the runtime creates them in the upper dir. */
const RUNTIME_MOUNTPOINTS = ['dev', 'proc', 'sys', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname'];


export interface ContainerRun {
  runtime: OciRuntime;
  /** The container's root file system, mounted by the caller (a snapshot view). */
  rootfs: string;
  /** An empty directory of the caller's for the bundle. */
  bundleDir: string;
  spec: Omit<ContainerSpec, 'rootfs'>;
  stdio: ContainerStdio;
  id?: string;
  /** Container paths of extra mounts (RUN --mount): stubs the runtime creates for them are reported too. */
  mountTargets?: string[];
  /** Called with the rootfs before the container starts (e.g. to resolve the user). */
  prepare?: (rootfs: string) => Promise<Partial<ContainerSpec>>;
  /** Where the runtime writes the container's pid; needed for `started`. */
  pidFile?: string;
  /** Called once the container's process exists, with its pid (as seen in ribo's namespace). */
  started?: (pid: number) => Promise<void>;
}

export interface ContainerResult {
  exitCode: number;
  /** The spec the bundle was written from (the user's ids and the mounts filled in). */
  spec: ContainerSpec;
  /** Paths, relative to the rootfs, the runtime had to create as mount points: not the container's changes. */
  runtimeStubs: string[];
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(() => true, () => false);
}

/** The mount points the runtime will have to create in `rootfs`, and their missing parents. */
async function missingMountpoints(rootfs: string, mountTargets: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const rel of RUNTIME_MOUNTPOINTS) if (!(await exists(path.join(rootfs, rel)))) missing.push(rel);
  // parents of missing files (etc/) that were missing too
  if (missing.some((m) => m.startsWith('etc/')) && !(await exists(path.join(rootfs, 'etc')))) missing.push('etc');
  for (const target of mountTargets) {
    // The target and each parent the runtime will have to create for it.
    for (let rel = target.replace(/^\/+/, ''); rel && rel !== '.'; rel = path.posix.dirname(rel)) {
      if (await exists(path.join(rootfs, rel))) break;
      if (!missing.includes(rel)) missing.push(rel);
    }
  }
  return missing;
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

/** What a written bundle holds: the spec, and the mount points the runtime will create. */
export interface PreparedBundle {
  spec: ContainerSpec;
  runtimeStubs: string[];
}

/** Writes the bundle for `run.rootfs` (a container another process may run, e.g. conmon), as `run.runtime` takes it. */
export async function prepareBundle(run: Omit<ContainerRun, 'stdio' | 'runtime'> & { runtime: Pick<OciRuntime, 'finishConfig'> }): Promise<PreparedBundle> {
  const { rootfs } = run;
  await mkdir(run.bundleDir, { recursive: true });
  const runtimeStubs = await missingMountpoints(rootfs, run.mountTargets ?? []);
  const extra = run.prepare ? await run.prepare(rootfs) : {};
  const network = run.spec.network;
  const gateway = await hostAddress(network);
  const addHosts = (run.spec.addHosts ?? []).map((h) => (h.ip === 'host-gateway' ? { ...h, ip: gateway ?? '127.0.0.1' } : h));
  const hooked = needsNetworkHook(network);
  if (hooked) await prepareNetwork(run.bundleDir);
  // Sharing another container's network (extra from `prepare`) shares its host name too, as docker does.
  const hostname = extra.hostname ?? run.spec.hostname ?? 'ribo';
  // On a network between containers: an address, and the container's names published to the others.
  const attachment = network === 'named' ? run.spec.attachment : undefined;
  const ownAddress = attachment ? await reserveEndpoint(run.bundleDir, attachment, run.id ?? hostname, [...(run.spec.aliases ?? []), hostname]) : undefined;
  const dns = run.spec.dns?.length || !attachment ? run.spec.dns : [attachment.gateway];
  // /etc/hosts, hostname and resolv.conf from the bundle dir, over the image's (the stubs for them are dropped after).
  const fileMounts = await networkFileMounts(run.bundleDir, { network, hostname, aliases: run.spec.aliases, addHosts, dns, ownAddress, readonly: run.spec.readonlyRootfs ?? false });
  // Sharing another container's network shares its names and name servers too.
  const sharedFrom = extra.shareEtcFrom;
  if (sharedFrom) for (const m of fileMounts) if (m.destination !== '/etc/hostname') m.source = path.join(sharedFrom, path.basename(m.destination));
  const mounts: Mount[] = [...fileMounts.filter((m) => !(run.spec.mounts ?? []).some((u) => u.destination === m.destination)), ...(run.spec.mounts ?? [])];
  const spec: ContainerSpec = { ...run.spec, ...extra, mounts, rootfs, ...(hooked ? { networkHook: networkHook(run.bundleDir) } : {}) };
  await writeBundle(run.bundleDir, spec, { finish: (config) => run.runtime.finishConfig(config) });
  return { spec, runtimeStubs };
}

/** Writes the bundle for `run.rootfs` and runs one container in it until it exits. */
export async function runContainer(run: ContainerRun): Promise<ContainerResult> {
  const id = run.id ?? `ribo-${randomBytes(6).toString('hex')}`;
  try {
    const { spec, runtimeStubs } = await prepareBundle({ ...run, id });
    const running = run.runtime.run(run.bundleDir, id, run.stdio, { pidFile: run.pidFile });
    const connected = connectContainerNetwork(run.bundleDir, spec, running);
    connected.catch(() => undefined);
    if (run.pidFile && run.started) await announceStart(run.pidFile, running, run.started);
    const exitCode = await running;
    await connected;
    return { exitCode, spec, runtimeStubs };
  } finally {
    await run.runtime.delete(id);
    await disconnectContainerNetwork(run.bundleDir);
  }
}
