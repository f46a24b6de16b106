import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Hook, IdMapping, LinuxResources, Mount, RuntimeSpec } from '../oci/runtime-spec.js';
import { BUILD_DEFAULT_CAPABILITIES, RUN_DEFAULT_CAPABILITIES, capabilitySet, knownCapabilities } from './capabilities.js';
import type { NetworkMode, PortMapping } from './network.js';
import type { NetworkAttachment } from './networks/endpoints.js';
import { runtimeConfigJson, type Rlimit } from './rlimits.js';
import { defaultSeccompProfilePath, loadSeccompProfile, resolveSeccomp, seccompHost, type SeccompProfile } from './seccomp.js';

/** The template every bundle starts from; see bundles/README.md. */
export const DEFAULT_TEMPLATE = new URL('../../../bundles/config.json', import.meta.url);

/** A host device node a container gets (--device). */
export interface ContainerDevice {
  /** The node on the host, symlinks resolved. */
  hostPath: string;
  /** Where it appears in the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** docker's r, w and m: the device cgroup rule, and a read-only bind without w. */
  access: string;
}

export interface ContainerSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: number[];
  /** Absolute path of the mounted root file system. */
  rootfs: string;
  hostname?: string;
  terminal?: boolean;
  /** The terminal's size at start (-t): the runtime gives its pty this size. */
  consoleSize?: { height: number; width: number };
  readonlyRootfs?: boolean;
  /**
   * 'host' shares the host's network (what RUN needs for apt-get); 'none' and
   * 'private' give the container a network namespace of its own with only lo;
   * 'pasta' and 'slirp4netns' connect that namespace to the host (network.ts).
   */
  network: NetworkMode;
  /** 'named': the network between containers the container joins (networks/). */
  attachment?: NetworkAttachment;
  /** 'container': the network namespace (a /proc/PID/ns/net) of the container whose network this one shares. */
  joinNetns?: string;
  /** 'container': the other container's bundle dir, whose /etc/hosts and resolv.conf this one shares (as docker does). */
  shareEtcFrom?: string;
  /** Published ports (-p): TCP through socat listeners, UDP through pasta (network.ts). */
  ports?: PortMapping[];
  /** Name servers for /etc/resolv.conf (--dns); the network's own when absent. */
  dns?: string[];
  /** Extra /etc/hosts entries (--add-host), IP already resolved ("host-gateway" too). */
  addHosts?: { name: string; ip: string }[];
  /** More names of the container itself in /etc/hosts (its container name). */
  aliases?: string[];
  /** The runtime hook that hands the new network namespace to its helper (network.ts). */
  networkHook?: Hook;
  /** Ids usable in ribo's namespace; the container's user namespace maps them one to one. */
  idCount: number;
  mounts?: Mount[];
  resources?: LinuxResources;
  /** --ulimit: the process's limits; without them it keeps ribo's own. */
  rlimits?: Rlimit[];
  /** --shm-size: the /dev/shm tmpfs's size in bytes (the template's 64 MiB when unset). */
  shmSize?: number;
  /** --sysctl: namespaced kernel settings, over ribo's own defaults. */
  sysctls?: Record<string, string>;
  /** --device: host device nodes bound in, each with its device cgroup access. */
  devices?: ContainerDevice[];
  /** Which default capability set: podman's for `ribo run` (also when unset), BuildKit's (docker's) for build steps. */
  capabilityDefaults?: 'run' | 'build';
  /** Capabilities (CAP_ names or ALL) added to and dropped from the default set. */
  capAdd?: string[];
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** 'default' (podman's profile if installed, else bundles/seccomp.json; also when unset), 'unconfined', or the path of a profile file. */
  seccomp?: string;
  /** Host path of a static init (tini) started as PID 1 in front of `args`. */
  init?: string;
  /** --userns keep-id: the container's ids equal to ribo's caller's, mapped to ribo's own id 0 (see keepIdMappings). */
  keepId?: { uid: number; gid: number };
}

/**
 * podman's default sysctls (containers.conf default_sysctls): root in the
 * container may open ICMP datagram sockets, so ping works without CAP_NET_RAW.
 * Only in a network namespace of the container's own, as podman skips net.*
 * sysctls for --network host (the host's namespace is not the container's to change).
 */
export const OWN_NETWORK_SYSCTLS: Readonly<Record<string, string>> = { 'net.ipv4.ping_group_range': '0 0' };

/** The group of terminals (tty) in the images of every common distribution. */
const TTY_GID = 5;

/** Where --init's binary appears in the container: /dev is a tmpfs, so the image is never touched. */
export const INIT_PATH = '/dev/init';

/**
 * The container's user namespace maps ids one to one. Root is mapped on its own:
 * some kernels refuse one extent that maps 0 together with other ids into a
 * nested user namespace, and accept the same ids split in two.
 */
export function identityMappings(idCount: number): IdMapping[] {
  const size = Math.min(idCount, 2 ** 32 - 1);
  return size <= 1 ? [{ containerID: 0, hostID: 0, size: 1 }] : [
    { containerID: 0, hostID: 0, size: 1 },
    { containerID: 1, hostID: 1, size: size - 1 },
  ];
}

/**
 * podman's keep-id: container id `id` is ribo's 0 (the user who ran ribo),
 * the ids below it are ribo's 1..id, those above it stay as they are.
 */
export function keepIdMappings(idCount: number, id: number): IdMapping[] {
  const size = Math.min(idCount, 2 ** 32 - 1);
  const mappings: IdMapping[] = [{ containerID: 0, hostID: 1, size: id }, { containerID: id, hostID: 0, size: 1 }];
  if (size > id + 1) mappings.push({ containerID: id + 1, hostID: id + 1, size: size - id - 1 });
  return mappings.filter((m) => m.size > 0);
}

/** Where container id `id` is in ribo's namespace, through `mappings`; undefined when it is not mapped. */
export function namespaceId(mappings: IdMapping[], id: number): number | undefined {
  const m = mappings.find((x) => id >= x.containerID && id < x.containerID + x.size);
  return m ? m.hostID + (id - m.containerID) : undefined;
}

/** The container's uid and gid mappings for `spec`. */
export function containerMappings(spec: Pick<ContainerSpec, 'idCount' | 'keepId'>): { uid: IdMapping[]; gid: IdMapping[] } {
  if (!spec.keepId) return { uid: identityMappings(spec.idCount), gid: identityMappings(spec.idCount) };
  return { uid: keepIdMappings(spec.idCount, spec.keepId.uid), gid: keepIdMappings(spec.idCount, spec.keepId.gid) };
}

/**
 * Fills the template with one container's process, root, mappings and mounts.
 * `seccompProfile` (already read) is resolved against the final capabilities;
 * without one the container runs unconfined. `knownCaps` is what --cap-add ALL means.
 */
export function specFromTemplate(template: RuntimeSpec, spec: ContainerSpec, seccompProfile?: SeccompProfile, knownCaps?: string[]): RuntimeSpec {
  const config: RuntimeSpec = structuredClone(template);
  const templateProcess = config.process!;
  const defaults = spec.capabilityDefaults === 'build' ? BUILD_DEFAULT_CAPABILITIES : RUN_DEFAULT_CAPABILITIES;
  const caps = capabilitySet(defaults, spec.capAdd ?? [], spec.capDrop ?? [], knownCaps);
  config.process = {
    ...templateProcess,
    terminal: spec.terminal ?? false,
    ...(spec.terminal && spec.consoleSize ? { consoleSize: spec.consoleSize } : {}),
    // 0022 as docker's containers have: ribo itself writes with 077 (bin/run-plan.sh), which the container must not inherit.
    user: { uid: spec.uid, gid: spec.gid, umask: 0o022, ...(spec.additionalGids?.length ? { additionalGids: spec.additionalGids } : {}) },
    args: spec.init ? [INIT_PATH, '--', ...spec.args] : spec.args,
    env: spec.env,
    cwd: spec.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: spec.noNewPrivileges ?? templateProcess.noNewPrivileges ?? false,
    ...(spec.rlimits?.length ? { rlimits: spec.rlimits } : {}),
  };
  config.root = { path: spec.rootfs, readonly: spec.readonlyRootfs ?? false };
  config.hostname = spec.hostname ?? config.hostname;
  const initMount: Mount[] = spec.init ? [{ destination: INIT_PATH, type: 'bind', source: spec.init, options: ['bind', 'ro', 'nosuid', 'nodev'] }] : [];
  // A network namespace of its own shows its own devices: a fresh sysfs (owned by the container's user namespace, which the runtime creates with it).
  const mappings = containerMappings(spec);
  const templateMounts = (config.mounts ?? []).map((m) => (m.destination === '/sys' && spec.network !== 'host' && spec.network !== 'container' ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] } : m));
  // Terminals belong to group tty (5), as docker's and podman's do, where the container's namespace has that group.
  const shm = templateMounts.find((m) => m.destination === '/dev/shm');
  if (shm && spec.shmSize !== undefined) shm.options = [...(shm.options ?? []).filter((o) => !o.startsWith('size=')), `size=${spec.shmSize}`];
  const devpts = templateMounts.find((m) => m.destination === '/dev/pts');
  if (devpts && namespaceId(mappings.gid, TTY_GID) !== undefined) devpts.options = [...(devpts.options ?? []), `gid=${TTY_GID}`];
  config.mounts = [...templateMounts, ...initMount, ...deviceMounts(spec.devices ?? []), ...(spec.mounts ?? [])];
  if (spec.networkHook) config.hooks = { ...config.hooks, createRuntime: [...(config.hooks?.createRuntime ?? []), spec.networkHook] };
  const linux = config.linux ?? {};
  linux.uidMappings = mappings.uid;
  linux.gidMappings = mappings.gid;
  const namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network');
  if (spec.network === 'container' && spec.joinNetns) namespaces.push({ type: 'network', path: spec.joinNetns });
  else if (spec.network !== 'host') namespaces.push({ type: 'network' });
  linux.namespaces = namespaces;
  // A joined namespace (container:NAME) has them already, and is not the container's to change.
  if (spec.network !== 'host' && spec.network !== 'container') linux.sysctl = { ...OWN_NETWORK_SYSCTLS, ...linux.sysctl };
  if (spec.sysctls && Object.keys(spec.sysctls).length > 0) linux.sysctl = { ...linux.sysctl, ...spec.sysctls };
  if (spec.resources) linux.resources = spec.resources;
  if (spec.devices?.length) allowDevices(linux, spec.devices);
  if (seccompProfile) linux.seccomp = resolveSeccomp(seccompProfile, seccompHost(caps));
  else delete linux.seccomp;
  config.linux = linux;
  return config;
}

/**
 * --device: the host's nodes bound in, as rootless podman does (a runtime in
 * a user namespace would bind the node at the container's path from the same
 * path on the host, so a renamed one could not be had), and device cgroup
 * rules that allow them where the runtime keeps a device cgroup (as root).
 */
function deviceMounts(devices: ContainerDevice[]): Mount[] {
  return devices.map((d) => ({ destination: d.path, type: 'bind', source: d.hostPath, options: ['rbind', 'nosuid', 'noexec', d.access.includes('w') ? 'rw' : 'ro'] }));
}

function allowDevices(linux: NonNullable<RuntimeSpec['linux']>, devices: ContainerDevice[]): void {
  const rules = devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access }));
  linux.resources = { ...linux.resources, devices: [...(linux.resources?.devices ?? []), ...rules] };
}

async function capLastCap(): Promise<number> {
  const text = await readFile('/proc/sys/kernel/cap_last_cap', 'utf8').catch(() => '40');
  return Number.parseInt(text, 10) || 40;
}

/** The runtime config (config.json) of `spec`, from the template and the seccomp profile it names. */
export async function bundleConfig(spec: ContainerSpec, templateUrl: URL = DEFAULT_TEMPLATE): Promise<RuntimeSpec> {
  const template = JSON.parse(await readFile(templateUrl, 'utf8')) as RuntimeSpec;
  const seccomp = spec.seccomp ?? 'default';
  const profile = seccomp === 'unconfined' ? undefined : await loadSeccompProfile(seccomp === 'default' ? await defaultSeccompProfilePath() : seccomp);
  const knownCaps = spec.capAdd?.includes('ALL') ? knownCapabilities(await capLastCap()) : undefined;
  return specFromTemplate(template, spec, profile, knownCaps);
}

/**
 * Writes `dir`/config.json for `spec`; the rootfs stays where it is mounted.
 * `finish` gives the config the runtime's own additions (OciRuntime.finishConfig).
 */
export async function writeBundle(dir: string, spec: ContainerSpec, opts: { template?: URL; finish?: (config: RuntimeSpec) => Promise<RuntimeSpec> } = {}): Promise<RuntimeSpec> {
  const built = await bundleConfig(spec, opts.template ?? DEFAULT_TEMPLATE);
  const config = opts.finish ? await opts.finish(built) : built;
  await mkdir(dir, { recursive: true });
  // 0600: the process's env holds the -e values, secrets included.
  await writeFile(path.join(dir, 'config.json'), runtimeConfigJson(config, 2), { mode: 0o600 });
  return config;
}
