/**
 * `ribo run`'s flags, checked and turned into a typed RunSpec with docker
 * run's meanings. All user mistakes surface here, before anything is mounted.
 */
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { LinuxResources, Mount } from '../oci/runtime-spec.js';
import { normalizeCapability } from '../runtime/capabilities.js';
import { NAMESPACE_MARKER } from '../runtime/namespace.js';
import { isNetworkName } from '../runtime/networks/store.js';
import type { NetworkMode, PortMapping } from '../runtime/network.js';
import { parseExpose, parsePublish, refusePrivilegedHostPorts } from './publish.js';
import { parseResources, parseShmSize, parseSysctls, parseUlimits, type ResourceFlags } from './limit-options.js';
import { parseSignal } from './signals.js';
import { parseDevice, type DeviceRequest } from './device-options.js';
import type { Rlimit } from '../runtime/rlimits.js';
import { isTrue, isVolumeRequest, parseMount, parseTmpfs, parseVolume, type PathContext, type VolumeRequest } from './mount-options.js';
export type { NetworkMode };
/** What --network accepts; "bridge" (docker's name) and "default" mean the default network, pasta or slirp4netns. */
export const NETWORK_MODES = ['host', 'none', 'private', 'pasta', 'slirp4netns', 'bridge', 'default'] as const;
export type RequestedNetwork = (typeof NETWORK_MODES)[number];

/** The flags as the CLI collected them (repeatable ones as lists). */
export interface RunFlags extends ResourceFlags {
  env?: string[];
  envFile?: string[];
  volume?: string[];
  mount?: string[];
  tmpfs?: string[];
  publish?: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  interactive?: boolean;
  tty?: boolean;
  hostname?: string;
  readOnly?: boolean;
  network?: string;
  networkAlias?: string[];
  publishAll?: boolean;
  dns?: string[];
  addHost?: string[];
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  init?: boolean;
  privileged?: boolean;
  userns?: string;
  imageVolume?: string;
  ulimit?: string[];
  shmSize?: string;
  groupAdd?: string[];
  cidfile?: string;
  label?: string[];
  stopSignal?: string;
  stopTimeout?: string;
  device?: string[];
  sysctl?: string[];
  expose?: string[];
  labelFile?: string[];
}

/** What the container gets, beyond the image: everything `docker run` lets a user change. */
export interface RunSpec {
  /** NAME=VALUE entries laid over the image's Env, --env-file's first, then -e's. */
  env: string[];
  /** Bind and tmpfs mounts from -v and --mount, in the runtime-spec's form. */
  mounts: Mount[];
  workdir?: string;
  user?: string;
  /** Replaces the image's ENTRYPOINT (and drops its CMD) when set; [] clears it. */
  entrypoint?: string[];
  interactive: boolean;
  tty: boolean;
  hostname?: string;
  readOnly: boolean;
  /** 'bridge' and 'default' are resolved to pasta or slirp4netns when the container is made. */
  network: NetworkMode | 'default';
  /** --network NAME: the network between containers (ribo network create) to join. */
  networkName?: string;
  /** --network container:NAME: the container whose network namespace to share. */
  networkContainer?: string;
  /** --network-alias: more names on the network. */
  networkAliases: string[];
  /** -p's mappings (host port 0: a free one, chosen when the container is made). */
  ports: PortMapping[];
  /** -P: publish the image's EXPOSEd ports too. */
  publishAll: boolean;
  dns: string[];
  addHosts: { name: string; ip: string }[];
  /** Asked-for cgroup limits; whether the host can enforce them is decided later. */
  resources?: LinuxResources;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  /** 'default', 'unconfined' or an absolute profile path. */
  seccomp: string;
  init: boolean;
  /** Named and anonymous volumes from -v and --mount type=volume, found or made in the store when the container is created. */
  volumes: VolumeRequest[];
  /** Host directories of bind mounts with podman's `U` option: chowned to the container's user at start. */
  chownBinds: string[];
  /** Host paths of -v binds that are not there yet: made directories when the container is created, as docker does. */
  missingBindSources: string[];
  /** --userns keep-id: the caller's uid and gid are the same inside the container. */
  keepId: boolean;
  /** podman's --image-volume: an anonymous volume for each image VOLUME path ('bind', the default) or none ('ignore'). */
  imageVolumes: 'bind' | 'ignore';
  /** --ulimit: the process's limits (RLIMIT_ types, sorted). */
  rlimits: Rlimit[];
  /** --shm-size in bytes; unset: docker's 64 MiB. */
  shmSize?: number;
  /** --group-add: group names or gids, resolved in the container's /etc/group at start. */
  groupAdd: string[];
  /** --cidfile: the absolute path the container's id is written to once it is created. */
  cidfile?: string;
  /** --label KEY[=VALUE]: labels of the container, over its image's. */
  labels: Record<string, string>;
  /** --stop-signal: what `ribo stop` sends first, instead of the image's STOPSIGNAL. */
  stopSignal?: string;
  /** --stop-timeout: seconds `ribo stop` waits before SIGKILL when not given -t. */
  stopTimeout?: number;
  /** --device: host device nodes the container gets. */
  devices: DeviceRequest[];
  /** --sysctl: namespaced kernel settings of the container. */
  sysctls: Record<string, string>;
  /** --expose: more exposed ports ("80/tcp"), which -P publishes too. */
  expose: string[];
}

export interface RunContext extends PathContext {
  /** ribo's own environment: `-e NAME` and env-file lines without "=" copy from it, `~/` paths take its HOME. */
  env: NodeJS.ProcessEnv;
  /** Whether ribo's stdin is a terminal: -t relays it to the container's. */
  stdinIsTerminal: boolean;
}

/** `-e NAME=VALUE` as given; `-e NAME` copies NAME from ribo's environment, or is left out when unset. */
function envEntry(entry: string, env: NodeJS.ProcessEnv): string | undefined {
  const eq = entry.indexOf('=');
  if (eq === 0) throw new UsageError(`-e ${entry}: the variable name is empty; write NAME=VALUE.`);
  if (eq > 0) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

/** An env file as docker reads it: NAME=VALUE or NAME lines, "#" comments and blank lines skipped, no quoting. */
/** A file of KEY=VALUE lines as docker reads --env-file and --label-file: its lines without leading blanks, "#" comments and blank lines left out. */
async function readLineFile(flag: string, file: string, ctx: PathContext, what: string): Promise<{ full: string; lines: Array<{ raw: string; line: string; number: number }> }> {
  const full = path.resolve(ctx.cwd, file);
  const text = await readFile(full, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`${flag} ${file}: cannot read ${full} (${error.code ?? error.message}); give ${what}.`);
  });
  const lines = text.split(/\r?\n/).map((raw, index) => ({ raw, line: raw.trimStart(), number: index + 1 }));
  return { full, lines: lines.filter(({ line }) => line !== '' && !line.startsWith('#')) };
}

async function readEnvFile(file: string, ctx: RunContext): Promise<string[]> {
  const { full, lines } = await readLineFile('--env-file', file, ctx, 'an existing file of NAME=VALUE lines');
  const entries: string[] = [];
  for (const { raw, line, number } of lines) {
    if (line.startsWith('=')) throw new UsageError(`--env-file ${full}, line ${number}: "${raw}" has no variable name; write NAME=VALUE.`);
    const name = line.split('=', 1)[0]!;
    if (/\s/.test(name)) throw new UsageError(`--env-file ${full}, line ${number}: variable name "${name}" contains whitespace; write NAME=VALUE.`);
    const entry = envEntry(line, ctx.env);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

function parseSecurityOpts(values: string[]): { noNewPrivileges: boolean; seccomp: string } {
  let noNewPrivileges = false;
  let seccomp = 'default';
  for (const value of values) {
    const [key, rest] = splitOption(value);
    if (key === 'no-new-privileges') noNewPrivileges = isTrue(rest, '--security-opt', key);
    else if (key === 'seccomp') {
      if (!rest) throw new UsageError(`--security-opt ${value}: write seccomp=unconfined or seccomp=/path/to/profile.json.`);
      seccomp = rest;
    } else if (key === 'apparmor' || key === 'label') {
      throw new UsageError(`--security-opt ${value}: ${key} is not supported by ribo (it uses no LSM profiles); leave the option out.`);
    } else throw new UsageError(`--security-opt ${value}: unknown option; ribo supports no-new-privileges, seccomp=unconfined and seccomp=FILE.`);
  }
  return { noNewPrivileges, seccomp };
}

/** "key=value", "key:value" (docker's older spelling) or a bare "key". */
function splitOption(value: string): [string, string | undefined] {
  const match = /^([^=:]+)[=:](.*)$/.exec(value);
  return match ? [match[1]!, match[2]!] : [value, undefined];
}

/** Checks every flag and resolves files and host paths; throws a UsageError naming the flag. */
export async function parseRunFlags(flags: RunFlags, ctx: RunContext): Promise<RunSpec> {
  if (flags.privileged) {
    throw new UsageError('--privileged is not supported by ribo: a rootless container cannot get all of the host\'s devices and powers. Add what the program needs instead, e.g. --device /dev/fuse --cap-add SYS_ADMIN --security-opt seccomp=unconfined.');
  }
  const { network, networkName, networkContainer } = parseNetwork(flags.network);
  const networkAliases = flags.networkAlias ?? [];
  if (networkAliases.length > 0 && !networkName) throw new UsageError(`--network-alias ${networkAliases[0]}: aliases are names on a network between containers; add --network NAME (a network made with ribo network create).`);
  for (const alias of networkAliases) if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(alias)) throw new UsageError(`--network-alias ${alias}: a name is 1 to 63 letters, digits, "_", "." and "-", starting with a letter or digit.`);
  const env: string[] = [];
  for (const file of flags.envFile ?? []) env.push(...(await readEnvFile(file, ctx)));
  for (const entry of flags.env ?? []) {
    const resolved = envEntry(entry, ctx.env);
    if (resolved !== undefined) env.push(resolved);
  }
  const { mounts, volumes, binds } = await collectMounts(flags, ctx);
  const ports = publishedPorts(flags, network);
  if (ctx.env[NAMESPACE_MARKER] === 'rootless') await refusePrivilegedHostPorts(ports);
  const dns = (flags.dns ?? []).flatMap((d) => d.split(',')).filter(Boolean);
  for (const server of dns) if (!net.isIP(server)) throw new UsageError(`--dns ${server}: not an IP address; give a name server's address, e.g. --dns 9.9.9.9.`);
  const addHosts = parseAddHosts(flags.addHost ?? []);
  if (flags.workdir !== undefined && !flags.workdir.startsWith('/')) throw new UsageError(`-w ${flags.workdir}: the working directory must be an absolute path in the container.`);
  const security = parseSecurityOpts(flags.securityOpt ?? []);
  if (security.seccomp !== 'default' && security.seccomp !== 'unconfined') {
    security.seccomp = path.resolve(ctx.cwd, security.seccomp);
    const isFile = await stat(security.seccomp).then((s) => s.isFile(), () => false);
    if (!isFile) throw new UsageError(`--security-opt seccomp=${security.seccomp}: no such file; give a JSON seccomp profile, or seccomp=unconfined.`);
  }
  if (flags.tty && !ctx.stdinIsTerminal) {
    throw new UsageError('-t: the input device is not a terminal. ribo relays its own terminal to the container, so run it from a terminal (or under script(1)), or leave out -t.');
  }
  if (flags.hostname !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(flags.hostname)) {
    throw new UsageError(`--hostname ${flags.hostname}: a host name is 1 to 63 letters, digits, dots and dashes, starting with a letter or digit.`);
  }
  const shmSize = parseShmSize(flags.shmSize);
  const cidfile = await parseCidfile(flags.cidfile, ctx);
  return {
    env,
    mounts,
    workdir: flags.workdir,
    user: flags.user === '' ? undefined : flags.user,
    entrypoint: flags.entrypoint === undefined ? undefined : flags.entrypoint === '' ? [] : [flags.entrypoint],
    interactive: Boolean(flags.interactive),
    tty: Boolean(flags.tty),
    hostname: flags.hostname,
    readOnly: Boolean(flags.readOnly),
    network,
    ...(networkName ? { networkName } : {}),
    ...(networkContainer ? { networkContainer } : {}),
    networkAliases,
    ports,
    publishAll: Boolean(flags.publishAll),
    dns,
    addHosts,
    resources: parseResources(flags),
    capAdd: (flags.capAdd ?? []).flatMap((c) => c.split(',')).filter(Boolean).map((c) => normalizeCapability(c, '--cap-add')),
    capDrop: (flags.capDrop ?? []).flatMap((c) => c.split(',')).filter(Boolean).map((c) => normalizeCapability(c, '--cap-drop')),
    noNewPrivileges: security.noNewPrivileges,
    seccomp: security.seccomp,
    init: Boolean(flags.init),
    volumes,
    chownBinds: binds.chown,
    missingBindSources: binds.missing,
    keepId: parseUserns(flags.userns),
    imageVolumes: parseImageVolume(flags.imageVolume),
    rlimits: parseUlimits(flags.ulimit ?? []),
    ...(shmSize !== undefined ? { shmSize } : {}),
    groupAdd: parseGroupAdd(flags.groupAdd ?? []),
    ...(cidfile ? { cidfile } : {}),
    labels: { ...(await readLabelFiles(flags.labelFile ?? [], ctx)), ...parseLabels(flags.label ?? []) },
    expose: parseExpose(flags.expose ?? []),
    devices: await Promise.all((flags.device ?? []).map((value) => parseDevice(value, ctx))),
    sysctls: parseSysctls(flags.sysctl ?? [], network === 'host' || network === 'container'),
    ...stopOptions(flags),
  };
}

/** --add-host NAME:IP (or NAME=IP, or NAME:host-gateway), for ribo run and RUN steps of ribo build. */
export function parseAddHosts(values: string[]): Array<{ name: string; ip: string }> {
  return values.map((entry) => {
    const match = /^([^:=\s]+)[:=](.+)$/.exec(entry);
    if (!match || !(net.isIP(match[2]!) || match[2] === 'host-gateway')) throw new UsageError(`--add-host ${entry}: expected NAME:IP (or NAME:host-gateway), e.g. --add-host db:10.0.0.5.`);
    return { name: match[1]!, ip: match[2]! };
  });
}

/** --label KEY=VALUE or KEY (an empty value), as docker's; a key given twice keeps its last value. */
function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const [key, ...rest] = value.split('=');
    if (!key) throw new UsageError(`--label ${value}: the label's key is empty; write KEY=VALUE.`);
    labels[key] = rest.join('=');
  }
  return labels;
}

/** --label-file FILE: KEY=VALUE (or KEY) lines, "#" comments and blank lines skipped, as docker reads it; applied before --label. */
async function readLabelFiles(files: string[], ctx: PathContext): Promise<Record<string, string>> {
  const lines: string[] = [];
  for (const file of files) lines.push(...(await readLineFile('--label-file', file, ctx, 'a file of KEY=VALUE lines')).lines.map(({ line }) => line.trimEnd()));
  return parseLabels(lines);
}

/** --stop-signal (a signal name or number) and --stop-timeout (whole seconds). */
function stopOptions(flags: RunFlags): Pick<RunSpec, 'stopSignal' | 'stopTimeout'> {
  const options: Pick<RunSpec, 'stopSignal' | 'stopTimeout'> = {};
  if (flags.stopSignal !== undefined) {
    options.stopSignal = parseSignal(flags.stopSignal, '--stop-signal');
  }
  if (flags.stopTimeout !== undefined) {
    if (!/^\d+$/.test(flags.stopTimeout)) throw new UsageError(`--stop-timeout ${flags.stopTimeout}: give a whole number of seconds (0 or more), e.g. --stop-timeout 30.`);
    options.stopTimeout = Number(flags.stopTimeout);
  }
  return options;
}

/** -v, --mount and --tmpfs: runtime mounts, and the volumes to find or make. */
async function collectMounts(flags: RunFlags, ctx: PathContext) {
  const mounts: Mount[] = [];
  const volumes: VolumeRequest[] = [];
  const binds = { chown: [] as string[], missing: [] as string[] };
  const add = (mount: Mount | VolumeRequest) => (isVolumeRequest(mount) ? volumes.push(mount) : mounts.push(mount));
  for (const value of flags.volume ?? []) add(await parseVolume(value, ctx, binds));
  for (const value of flags.mount ?? []) add(await parseMount(value, ctx));
  for (const value of flags.tmpfs ?? []) mounts.push(parseTmpfs(value));
  return { mounts, volumes, binds };
}

/** -p's mappings, refused (with -P) on networks that cannot publish. */
function publishedPorts(flags: RunFlags, network: NetworkMode | 'default'): PortMapping[] {
  const ports = (flags.publish ?? []).flatMap((value) => parsePublish(value));
  if (ports.length === 0 && !flags.publishAll) return ports;
  const flag = ports.length > 0 ? `-p ${flags.publish![0]}` : '-P';
  if (network === 'container') {
    throw new UsageError(`${flag}: a container sharing another's network (--network ${flags.network}) has that container's ports; publish them when you run that one. Leave out ${flag.split(' ')[0]}.`);
  }
  if (network === 'host' || network === 'none' || network === 'private') {
    throw new UsageError(`${flag}: ports cannot be published with --network ${network}${network === 'host' ? ' (the container\'s ports are already the host\'s own; connect to them directly)' : ' (the container has no way out)'}. Leave out ${flag.split(' ')[0]} or use the default network (--network bridge).`);
  }
  return ports;
}

/** --group-add: each a group name or a gid (resolved when the container starts). */
function parseGroupAdd(values: string[]): string[] {
  for (const group of values) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(group)) throw new UsageError(`--group-add ${group}: give a group name from the image's /etc/group or a numeric gid.`);
  }
  return values;
}

/** --cidfile: where the id goes; like docker, an existing file is refused (it may be another container's). */
async function parseCidfile(value: string | undefined, ctx: PathContext): Promise<string | undefined> {
  if (value === undefined) return undefined;
  if (value === '') throw new UsageError('--cidfile: give the path of a file to write the container id to.');
  const file = path.resolve(ctx.cwd, value);
  if (await stat(file).then(() => true, () => false)) throw new UsageError(`--cidfile ${value}: ${file} exists already (another container's id?); remove it or give another path.`);
  const dir = await stat(path.dirname(file)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new UsageError(`--cidfile ${value}: ${path.dirname(file)} is not a directory; make it first or give another path.`);
  return file;
}

/** --network: a mode, container:NAME, or the name of a network between containers. */
function parseNetwork(value: string | undefined): { network: NetworkMode | 'default'; networkName?: string; networkContainer?: string } {
  const requested = value ?? 'default';
  if ((NETWORK_MODES as readonly string[]).includes(requested)) return { network: requested === 'bridge' ? 'default' : (requested as NetworkMode | 'default') };
  if (requested.startsWith('container:') && requested.length > 'container:'.length) return { network: 'container', networkContainer: requested.slice('container:'.length) };
  if (isNetworkName(requested)) return { network: 'named', networkName: requested };
  throw new UsageError(`--network ${requested}: not a network mode or network name; use bridge (the default: its own network namespace reaching out through slirp4netns, or pasta for UDP ports), host, none, private (only lo), pasta, slirp4netns, container:NAME, or a network made with ribo network create.`);
}

/** --image-volume bind (default) or ignore, podman's names. */
function parseImageVolume(value: string | undefined): 'bind' | 'ignore' {
  if (value === undefined || value === 'bind' || value === 'ignore') return value ?? 'bind';
  throw new UsageError(`--image-volume ${value}: use bind (an anonymous volume for each VOLUME of the image, the default) or ignore (none).`);
}

/** --userns: ribo's usual mapping ("" or host), or podman's keep-id. */
function parseUserns(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'host') return false;
  if (value === 'keep-id') return true;
  throw new UsageError(`--userns ${value}: ribo supports only keep-id (your uid and gid inside the container, as podman's) and host (the default); leave the flag out or use --userns keep-id.`);
}
