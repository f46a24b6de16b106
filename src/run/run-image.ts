import { unpackImageLayers, lowerDirs } from '../image/layers.js';
import { envToMap, mapToEnv } from '../image/env.js';
import { DEFAULT_PATH } from '../image/platform.js';
import type { ImageConfig, Platform } from '../oci/image.js';
import { configPlatform, formatPlatform, hostPlatform } from '../oci/platform.js';
import { checkEmulation, needsEmulation } from '../runtime/emulation.js';
import { storeRefFor } from '../image/transport-ref.js';
import { findExecutable } from '../files/executables.js';
import { defaultUserModeNetwork, slirpCarries } from '../runtime/network.js';
import { exposedPorts, freeHostPorts } from './publish.js';
import type { LinuxResources } from '../oci/runtime-spec.js';
import type { RunSpec } from './run-options.js';
import type { Snapshotter } from '../snapshot/index.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import type { Store } from '../store/index.js';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RiboError, UsageError } from '../errors.js';
import { writeRunPlan, type PlainNetwork } from './run-plan.js';
import { ContainerStore, type ContainerPlan, type ContainerRecord, type RestartPolicy } from './containers.js';
import { recoverContainers, removeContainerFiles } from './lifecycle.js';
import { launchMonitor, superviseContainer, type MonitorLauncher } from './supervise.js';
import { makeMissingBindSources, prepareContainerVolumes, removeAnonymousVolumes } from './volumes.js';
import { callerIds } from '../runtime/keep-id.js';
import { callerTerminalSize, consoleSizeOf, DEFAULT_TERMINAL_SIZE } from '../runtime/terminal.js';
import { VolumeStore } from '../store/volumes.js';
import { NetworkStore } from '../runtime/networks/store.js';
import type { NetworkAttachment } from '../runtime/networks/endpoints.js';

export interface RunImageOptions {
  store: Store;
  driver: Snapshotter;
  runtime: OciRuntime;
  idCount: number;
  image: string;
  /** Replaces the image's CMD when non-empty. */
  command: string[];
  /** Remove the container (writable layer, record, log) when it exits. */
  remove: boolean;
  /** A unique name; a random one when absent. */
  name?: string;
  /** What the flags asked for (run-options.ts). */
  spec: RunSpec;
  /** The cgroup limits the host lets ribo enforce (cgroups.ts), not necessarily all of spec.resources. */
  resources?: LinuxResources;
  /**
   * Set when the command line was a plain `run --rm IMAGE [COMMAND...]`
   * (run-plan.ts): the foreground run then leaves a plan for the next one.
   */
  runPlan?: { namespaceMode: string; hideUnified?: 'mount' | 'umount'; network?: PlainNetwork };
  /** ribo's clean-up command should this foreground ribo be killed (orphan-watch.ts). */
  orphanCleanup?: (id: string) => string[];
  /** ribo's clean-up command for conmon, which relays a foreground terminal (-t; terminal-session.ts). */
  conmonCleanup?: (id: string) => string[];
  /** --restart (detached only). */
  restartPolicy?: RestartPolicy;
  /** --platform: the image's manifest for this platform (from an index); default this machine's. */
  platform?: Platform;
}

/** A new container, and what its image gives a run without a command. */
interface CreatedContainer {
  record: ContainerRecord;
  /** The image's ENTRYPOINT. */
  entrypoint: string[];
  /** ENTRYPOINT + CMD. */
  defaultArgs: string[];
  /** The image is for another architecture: the container runs under QEMU. */
  emulated: boolean;
}

export class NothingToRunError extends RiboError {}

/** -p or -P (`flag`) with ports slirp4netns cannot publish, on the default network (pasta missing) or --network slirp4netns. */
function refusedSlirpPorts(flag: string, isDefault: boolean): UsageError {
  const why = isDefault ? 'the default network, and pasta is not installed' : '--network slirp4netns';
  return new UsageError(`${flag}: slirp4netns (${why}) publishes only TCP ports, up to 32, through socat (Debian packages socat and util-linux); UDP ports and more need pasta. Install passt and use the default network or --network pasta, or leave out the flag.`);
}

/** --network NAME: what the container's bundle needs to join the network (it must exist). */
async function networkAttachment(storeRoot: string, name: string, aliases: string[]): Promise<NetworkAttachment> {
  const networks = NetworkStore.ofStore(storeRoot);
  const record = await networks.read(name);
  return { network: name, dir: networks.dirOf(name), subnet: record.Subnet, gateway: record.Gateway, aliases };
}

/** --network container:NAME: the other container, which must be running. */
async function networkContainer(containers: ContainerStore, nameOrId: string): Promise<string> {
  const record = await containers.find(nameOrId);
  if (record.status !== 'running') throw new UsageError(`--network container:${nameOrId}: container ${record.name} is not running; start it first (ribo start ${record.name}).`);
  return record.id;
}

/** The static tini that --init runs as PID 1 (Debian's tini package). */
async function findInit(): Promise<string> {
  const init = await findExecutable('tini-static');
  if (!init) throw new RiboError('--init needs a static tini on the host, which is not installed. Install it (as root: apt-get install tini) or leave out --init.');
  return init;
}

/** Whether the image needs emulation here (checked to be set up, with a warning); throws when it cannot run. */
async function checkImagePlatform(config: ImageConfig, image: string): Promise<boolean> {
  const platform = configPlatform(config);
  const emulated = Boolean(config.architecture) && needsEmulation(platform);
  if (emulated) {
    await checkEmulation(platform, `Containers of image ${image}`);
    process.stderr.write(`ribo: warning: image ${image} is for ${formatPlatform(platform)}, this machine is ${formatPlatform(hostPlatform())}: the container runs under QEMU emulation, several times slower.\n`);
  }
  return emulated;
}

/**
 * --cidfile as docker writes it: made (exclusively) before the record, so a
 * file that appeared meanwhile is not overwritten; the id written once the
 * record exists; removed when making the record failed.
 */
async function withCidfile(file: string | undefined, create: () => Promise<ContainerRecord>): Promise<ContainerRecord> {
  if (!file) return create();
  const handle = await open(file, 'wx').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--cidfile ${file}: cannot create it (${error.code ?? error.message}); remove it or give another path.`);
  });
  try {
    const record = await create().catch(async (error: unknown) => {
      await rm(file, { force: true });
      throw error;
    });
    await handle.writeFile(record.id);
    return record;
  } finally {
    await handle.close();
  }
}

/** The process Docker would start: ENTRYPOINT + (given command or CMD). */
export function containerArgs(entrypoint: string[] | null | undefined, cmd: string[] | null | undefined, command: string[]): string[] {
  return [...(entrypoint ?? []), ...(command.length > 0 ? command : cmd ?? [])];
}

/**
 * Resolves the image, unpacks its layers and works out everything the
 * container needs (its plan), then records it as a new container in
 * `created` state under the store's containers/.
 */
export async function createContainer(opts: RunImageOptions, detached: boolean): Promise<CreatedContainer> {
  const containers = ContainerStore.ofStore(opts.store.root);
  await recoverContainers(containers, opts.store.root);
  const image = await opts.store.resolveImage(await storeRefFor(opts.store, opts.image), { platform: opts.platform });
  const emulated = await checkImagePlatform(image.config, opts.image);
  const layers = await unpackImageLayers(opts.store, image.manifest, image.config, opts.image);
  const config = image.config.config ?? {};
  const spec = opts.spec;
  // docker run --entrypoint also drops the image's CMD.
  const args = spec.entrypoint ? containerArgs(spec.entrypoint, [], opts.command) : containerArgs(config.Entrypoint, config.Cmd, opts.command);
  if (args.length === 0) {
    throw new NothingToRunError(`Image ${opts.image} has no ENTRYPOINT or CMD, so there is nothing to run; give a command: ribo run ${opts.image} COMMAND [ARG...].`);
  }
  const env = envToMap(config.Env);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  for (const entry of spec.env) {
    const [key, ...value] = entry.split('=');
    env.set(key!, value.join('='));
  }
  // A terminal needs TERM: the caller's, else xterm as docker sets (unless the image or -e did).
  if (spec.tty && !env.has('TERM')) env.set('TERM', process.env.TERM || 'xterm');
  const init = spec.init ? await findInit() : undefined;
  const attachment = spec.networkName ? await networkAttachment(opts.store.root, spec.networkName, spec.networkAliases) : undefined;
  const sharedWith = spec.networkContainer ? await networkContainer(containers, spec.networkContainer) : undefined;
  const exposed = { ...config.ExposedPorts, ...Object.fromEntries(spec.expose.map((key) => [key, {}])) };
  const ports = await freeHostPorts([...spec.ports, ...(spec.publishAll ? exposedPorts(exposed).filter((e) => !spec.ports.some((p) => p.containerPort === e.containerPort && p.protocol === e.protocol)) : [])]);
  const network = spec.network === 'default' ? await defaultUserModeNetwork(ports) : spec.network;
  if (network === 'slirp4netns' && !(await slirpCarries(ports))) throw refusedSlirpPorts(spec.ports.length > 0 ? '-p' : '-P', opts.spec.network === 'default');
  const keepId = spec.keepId ? await callerIds(opts.idCount) : undefined;
  // Last of what may fail before the record exists: anonymous volumes made here are removed if creating it fails.
  // With volumes, under the volumes lock, so `volume rm`/`prune` never remove a volume between its use here and the record naming it.
  const create = async (): Promise<ContainerRecord> => {
    await makeMissingBindSources(spec.missingBindSources);
    const volumes = await prepareContainerVolumes(opts.store.root, spec.volumes, spec.mounts, spec.imageVolumes === 'ignore' ? {} : config.Volumes);
    const user = spec.user ?? (keepId ? `${keepId.uid}:${keepId.gid}` : config.User);
    const plan: ContainerPlan = {
      lowers: lowerDirs(layers),
      spec: {
        args,
        env: mapToEnv(env),
        cwd: spec.workdir ?? (config.WorkingDir || '/'),
        network,
        ...(attachment ? { attachment } : {}),
        ...(ports.length ? { ports } : {}),
        ...(spec.dns.length ? { dns: spec.dns } : {}),
        ...(spec.addHosts.length ? { addHosts: spec.addHosts } : {}),
        ...(opts.name ? { aliases: [opts.name] } : {}),
        idCount: opts.idCount,
        ...(spec.hostname !== undefined ? { hostname: spec.hostname } : {}),
        terminal: spec.tty,
        // A detached container's terminal starts at the caller's size, or docker's 80×24 without one (never 0×0).
        ...(spec.tty ? { consoleSize: consoleSizeOf(callerTerminalSize() ?? DEFAULT_TERMINAL_SIZE) } : {}),
        readonlyRootfs: spec.readOnly,
        mounts: volumes.mounts,
        ...(keepId ? { keepId } : {}),
        ...(opts.resources ? { resources: opts.resources } : {}),
        ...(spec.rlimits.length ? { rlimits: spec.rlimits } : {}),
        ...(spec.shmSize !== undefined ? { shmSize: spec.shmSize } : {}),
        ...(spec.devices.length ? { devices: spec.devices } : {}),
        ...(Object.keys(spec.sysctls).length ? { sysctls: spec.sysctls } : {}),
        capAdd: spec.capAdd,
        capDrop: spec.capDrop,
        noNewPrivileges: spec.noNewPrivileges,
        seccomp: spec.seccomp,
        ...(init ? { init } : {}),
      },
      ...(user ? { user } : {}),
      interactive: spec.interactive,
      ...(volumes.volumes.length ? { volumes: volumes.volumes } : {}),
      ...(spec.chownBinds.length || volumes.chownPaths.length ? { chownPaths: [...spec.chownBinds, ...volumes.chownPaths] } : {}),
      ...(sharedWith ? { networkContainer: sharedWith } : {}),
      ...(spec.groupAdd.length ? { groupAdd: spec.groupAdd } : {}),
    };
    return containers.create({
      name: opts.name,
      image: opts.image,
      imageDigest: image.manifestDescriptor.digest,
      command: args,
      autoRemove: opts.remove,
      detached,
      ...(opts.restartPolicy ? { restartPolicy: opts.restartPolicy, restartCount: 0 } : {}),
      ...(spec.stopSignal ?? config.StopSignal ? { stopSignal: spec.stopSignal ?? config.StopSignal } : {}),
      ...(spec.stopTimeout !== undefined ? { stopTimeout: spec.stopTimeout } : {}),
      ...(Object.keys({ ...config.Labels, ...spec.labels }).length ? { labels: { ...config.Labels, ...spec.labels } } : {}),
      // Known once a view is prepared when the first working one is chosen then (supervise.ts records it).
      driver: opts.driver.driver ?? '',
      runtime: opts.runtime.name,
      plan,
    }).catch(async (error: unknown) => {
      await removeAnonymousVolumes(opts.store.root, { plan } as ContainerRecord);
      throw error;
    });
  };
  const hasVolumes = spec.volumes.length > 0 || (spec.imageVolumes !== 'ignore' && Object.keys(config.Volumes ?? {}).length > 0);
  const recorded = () => withCidfile(spec.cidfile, create);
  const record = hasVolumes ? await VolumeStore.ofStore(opts.store.root).withLock(recorded) : await recorded();
  return { record, entrypoint: config.Entrypoint ?? [], defaultArgs: containerArgs(config.Entrypoint, config.Cmd, []), emulated };
}

/**
 * Runs an image in the foreground and returns the container's exit code.
 * Signals sent to ribo reach the container; the container is kept under the
 * store's containers/ unless `remove` is set.
 */
export async function runImage(opts: RunImageOptions): Promise<number> {
  const indexFile = path.join(opts.store.root, 'index.json');
  const indexMtimeMs = opts.runPlan ? (await stat(indexFile)).mtimeMs : 0;
  const created = await createContainer(opts, false);
  const containers = ContainerStore.ofStore(opts.store.root);
  let ran;
  try {
    const ctx = { driver: opts.driver, runtime: opts.runtime, containers, leaveStore: () => opts.store.leave(), ...(opts.orphanCleanup ? { orphanCleanup: opts.orphanCleanup } : {}), ...(opts.conmonCleanup ? { conmonCleanup: opts.conmonCleanup } : {}) };
    ran = await superviseContainer(ctx, created.record, 'foreground');
  } catch (error) {
    if (opts.remove) await removeContainerFiles(containers, created.record, opts.store.root);
    throw error;
  }
  // A planned run would skip what volumes need at each run (a new anonymous volume, copy-up).
  // Nor is a plan left for an emulated image: each run checks binfmt_misc and warns.
  if (opts.runPlan && opts.remove && ran.capabilities.replayableByShell && !created.record.plan.volumes && !created.emulated) {
    await writeRunPlan({
      storeRoot: opts.store.root,
      image: opts.image,
      namespaceMode: opts.runPlan.namespaceMode,
      idCount: opts.idCount,
      mount: ran.mount,
      containerDir: containers.dirOf(created.record.id),
      ...(opts.runPlan.hideUnified ? { hideUnified: opts.runPlan.hideUnified } : {}),
      ...(opts.runPlan.network ? { network: opts.runPlan.network } : {}),
      runtime: { name: opts.runtime.name, binary: opts.runtime.binary, stateDir: opts.runtime.stateDir, globalArgs: opts.runtime.globalArgs(), finishConfig: (config) => opts.runtime.finishConfig(config) },
      entrypoint: created.entrypoint,
      defaultArgs: created.defaultArgs,
      bundleSpec: ran.bundleSpec,
      record: ran.record,
      indexMtimeMs,
    }).catch(() => false); // only a speed-up: the next run goes through Node again
  }
  return ran.exitCode;
}

/**
 * `ribo create`: the container made as `run -d` would make it, left idle
 * (docker's Created state) for `ribo start`, `ribo cp` and `ribo rm`.
 */
export async function createIdleContainer(opts: RunImageOptions): Promise<ContainerRecord> {
  const { record } = await createContainer(opts, true);
  const containers = ContainerStore.ofStore(opts.store.root);
  // Its writable layer, empty: `ribo cp` lays it over the image as it does a stopped container's, and `ribo start` keeps it.
  await mkdir(path.join(containers.dirOf(record.id), 'upper'));
  const idle: ContainerRecord = { ...record, idle: true };
  await containers.write(idle);
  return idle;
}

/**
 * Starts an image in the background: a monitor process (`launch`) mounts and
 * runs the container and stays with it; returns once it has started.
 */
export async function runImageDetached(opts: RunImageOptions, launch: MonitorLauncher): Promise<ContainerRecord> {
  const { record } = await createContainer(opts, true);
  const containers = ContainerStore.ofStore(opts.store.root);
  try {
    return await launchMonitor(containers, record, launch);
  } catch (error) {
    if (opts.remove) await removeContainerFiles(containers, record, opts.store.root);
    throw error;
  }
}
