/**
 * `ribo run`'s flags, checked and turned into a typed RunSpec with docker
 * run's meanings. All user mistakes surface here, before anything is mounted.
 */
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { LinuxResources, Mount } from '../oci/runtime-spec.js';
import { normalizeCapability } from '../runtime/capabilities.js';
import { validateVolumeName } from '../store/volumes.js';
import { isNetworkName } from '../runtime/networks/store.js';

import type { NetworkMode, PortMapping } from '../runtime/network.js';
import { parsePublish } from './publish.js';
export type { NetworkMode };
/** What --network accepts; "bridge" (docker's name) and "default" mean the default network, pasta or slirp4netns. */
export const NETWORK_MODES = ['host', 'none', 'private', 'pasta', 'slirp4netns', 'bridge', 'default'] as const;
export type RequestedNetwork = (typeof NETWORK_MODES)[number];

/** The flags as the CLI collected them (repeatable ones as lists). */
export interface RunFlags {
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
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  init?: boolean;
  privileged?: boolean;
  userns?: string;
  imageVolume?: string;
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
}

function isVolumeRequest(mount: Mount | VolumeRequest): mount is VolumeRequest {
  return 'copyUp' in mount;
}

/** A volume mount as asked for; `name` undefined is an anonymous volume. */
export interface VolumeRequest {
  name?: string;
  destination: string;
  readonly: boolean;
  /** Fill an empty volume from the image's files at `destination` first (docker's default; `nocopy` turns it off). */
  copyUp: boolean;
  /** podman's `U`: chown the volume's data to the container's user at start. */
  chown: boolean;
}

export interface RunContext {
  /** The directory relative host paths are taken from. */
  cwd: string;
  /** ribo's own environment: `-e NAME` and env-file lines without "=" copy from it. */
  env: NodeJS.ProcessEnv;
  /** Whether ribo's stdin is a terminal: -t relays it to the container's. */
  stdinIsTerminal: boolean;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size like docker's: a number of bytes with an optional b, k, m, g or t suffix. */
export function parseSize(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(value.trim());
  if (!match) throw new UsageError(`${flag} ${value}: not a size. Give bytes or a number with a unit, such as 512m or 2g.`);
  return Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
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
async function readEnvFile(file: string, ctx: RunContext): Promise<string[]> {
  const full = path.resolve(ctx.cwd, file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    throw new UsageError(`--env-file ${file}: cannot read ${full} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give an existing file of NAME=VALUE lines.`);
  }
  const entries: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('=')) throw new UsageError(`--env-file ${full}, line ${index + 1}: "${raw}" has no variable name; write NAME=VALUE.`);
    const name = line.split('=', 1)[0]!;
    if (/\s/.test(name)) throw new UsageError(`--env-file ${full}, line ${index + 1}: variable name "${name}" contains whitespace; write NAME=VALUE.`);
    const entry = envEntry(line, ctx.env);
    if (entry !== undefined) entries.push(entry);
  });
  return entries;
}

function containerPath(target: string, flag: string, value: string): string {
  if (!target.startsWith('/')) throw new UsageError(`${flag} ${value}: the container path "${target}" must be absolute (start with /).`);
  const normal = path.posix.normalize(target);
  if (normal === '/') throw new UsageError(`${flag} ${value}: cannot mount over the container's root; choose a directory such as /data.`);
  return normal.replace(/\/$/, '');
}

/** The host side of a bind, and whether it is there yet (the caller decides what a missing one means). */
async function hostPath(source: string, ctx: RunContext): Promise<{ full: string; exists: boolean }> {
  const full = path.resolve(ctx.cwd, source.startsWith('~/') ? path.join(ctx.env.HOME ?? os.homedir(), source.slice(2)) : source);
  return { full, exists: await stat(full).then(() => true, () => false) };
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

/**
 * -v HOST:CONTAINER[:OPTIONS] binds a host path, -v NAME:CONTAINER[:OPTIONS]
 * mounts a named volume, -v CONTAINER an anonymous one, as with docker.
 * Options: ro, rw, a propagation mode, nocopy (volumes), podman's U; SELinux's z/Z are accepted and ignored.
 */
async function parseVolume(value: string, ctx: RunContext, binds: { chown: string[]; missing: string[] }): Promise<Mount | VolumeRequest> {
  const parts = value.split(':');
  if (parts.length === 1) return { destination: containerPath(value, '-v', value), readonly: false, copyUp: true, chown: false };
  if (parts.length > 3 || parts[0] === '') throw new UsageError(`-v ${value}: expected HOST:CONTAINER[:OPTIONS] or NAME:CONTAINER[:OPTIONS], e.g. -v "$PWD/data:/data:ro" or -v data:/data.`);
  const [source, target, optionText] = parts as [string, string, string | undefined];
  const isBind = /^[/.~]/.test(source);
  if (!isBind) validateVolumeName(source, `-v ${value}`);
  const destination = containerPath(target, '-v', value);
  const options = ['rbind'];
  let mode = 'rw';
  let copyUp = true;
  let chown = false;
  for (const option of (optionText ?? '').split(',').filter(Boolean)) {
    if (option === 'ro' || option === 'rw') mode = option;
    else if (PROPAGATIONS.has(option)) options.push(option);
    else if (option === 'nocopy' && !isBind) copyUp = false;
    else if (option === 'U') chown = true;
    else if (option !== 'z' && option !== 'Z') throw new UsageError(`-v ${value}: unknown option "${option}"; use ro, rw, U, a propagation mode (rprivate, rshared, rslave) or, for a volume, nocopy.`);
  }
  if (!isBind) return { name: source, destination, readonly: mode === 'ro', copyUp, chown };
  const { full, exists } = await hostPath(source, ctx);
  // A missing one becomes a directory when the container is created, as docker's -v makes it (podman refuses it).
  if (!exists) binds.missing.push(full);
  if (chown) binds.chown.push(full);
  return { destination, type: 'bind', source: full, options: [...options, mode] };
}

function isTrue(value: string | undefined, flag: string, key: string): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new UsageError(`${flag}: ${key}=${value} must be true or false.`);
}

/** --mount type=bind,source=,target=[,readonly], type=volume[,source=NAME],target=[,readonly][,volume-nocopy] or type=tmpfs,target=[,tmpfs-size=][,tmpfs-mode=]. */
async function parseMount(value: string, ctx: RunContext): Promise<Mount | VolumeRequest> {
  const fields = new Map<string, string | undefined>();
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    if (key) fields.set(key, eq < 0 ? undefined : field.slice(eq + 1));
  }
  const take = (...keys: string[]) => keys.map((k) => fields.get(k)).find((v) => v !== undefined);
  const type = fields.get('type') ?? 'volume';
  const target = take('target', 'dst', 'destination');
  if (!target) throw new UsageError(`--mount ${value}: no target; add target=/path/in/container (or dst=).`);
  const destination = containerPath(target, '--mount', value);
  const readonly = ['readonly', 'ro'].some((k) => fields.has(k) && isTrue(fields.get(k), '--mount', k));
  const known = new Set(['type', 'target', 'dst', 'destination', 'source', 'src', 'readonly', 'ro', 'bind-propagation', 'tmpfs-size', 'tmpfs-mode', 'consistency', 'volume-nocopy']);
  for (const key of fields.keys()) if (!known.has(key)) throw new UsageError(`--mount ${value}: unknown field "${key}"; ribo knows type, source, target, readonly, bind-propagation, volume-nocopy, tmpfs-size and tmpfs-mode.`);
  if (type === 'bind') {
    const source = take('source', 'src');
    if (!source) throw new UsageError(`--mount ${value}: a bind mount needs source=/host/path.`);
    const options = ['rbind', readonly ? 'ro' : 'rw'];
    const propagation = fields.get('bind-propagation');
    if (propagation !== undefined) {
      if (!PROPAGATIONS.has(propagation)) throw new UsageError(`--mount ${value}: bind-propagation must be one of ${[...PROPAGATIONS].join(', ')}.`);
      options.push(propagation);
    }
    const { full, exists } = await hostPath(source, ctx);
    // docker's --mount refuses a missing source (its -v makes one).
    if (!exists) throw new UsageError(`--mount ${value}: the host path ${full} does not exist. Create it first (mkdir -p ${full}) or fix the path.`);
    return { destination, type: 'bind', source: full, options };
  }
  if (type === 'tmpfs') {
    if (take('source', 'src') !== undefined) throw new UsageError(`--mount ${value}: a tmpfs mount takes no source.`);
    const options = ['nosuid', 'nodev'];
    const size = fields.get('tmpfs-size');
    if (size !== undefined) options.push(`size=${parseSize(size, '--mount tmpfs-size')}`);
    const mode = fields.get('tmpfs-mode') ?? '1777';
    if (!/^[0-7]{3,4}$/.test(mode)) throw new UsageError(`--mount ${value}: tmpfs-mode must be octal, like 1777 or 0700.`);
    options.push(`mode=${mode}`);
    if (readonly) options.push('ro');
    return { destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  if (type === 'volume') {
    const name = take('source', 'src');
    if (name !== undefined) validateVolumeName(name, `--mount ${value}`);
    const copyUp = !(fields.has('volume-nocopy') && isTrue(fields.get('volume-nocopy'), '--mount', 'volume-nocopy'));
    return { ...(name !== undefined ? { name } : {}), destination, readonly, copyUp, chown: false };
  }
  throw new UsageError(`--mount ${value}: type "${type}" is not supported; use type=bind, type=volume or type=tmpfs.`);
}

/** --tmpfs PATH[:OPTIONS]: docker's defaults (noexec, nosuid, nodev, mode 1777) and the mount options given. */
function parseTmpfs(value: string): Mount {
  const colon = value.indexOf(':');
  const target = colon < 0 ? value : value.slice(0, colon);
  const given = colon < 0 ? [] : value.slice(colon + 1).split(',').filter(Boolean);
  for (const option of given) {
    if (!/^(size=\d+[kmg%]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmg]?|(no)?(exec|suid|dev|atime)|ro|rw)$/.test(option)) {
      throw new UsageError(`--tmpfs ${value}: unknown tmpfs option "${option}"; use size=, mode=, uid=, gid=, exec, ro and the like (see tmpfs(5)).`);
    }
  }
  const options = ['noexec', 'nosuid', 'nodev', 'mode=1777'].filter((d) => !given.some((g) => g.replace(/^no/, '') === d.replace(/^no/, '') || (d.startsWith('mode=') && g.startsWith('mode='))));
  return { destination: containerPath(target, '--tmpfs', value), type: 'tmpfs', source: 'tmpfs', options: [...options, ...given] };
}

function parseResources(flags: RunFlags): LinuxResources | undefined {
  const resources: LinuxResources = {};
  if (flags.memory !== undefined) {
    const limit = parseSize(flags.memory, '--memory');
    if (limit < 6 * 1024 * 1024) throw new UsageError(`--memory ${flags.memory}: the minimum is 6m, as with docker.`);
    resources.memory = { limit };
  }
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    const max = os.availableParallelism();
    if (!Number.isFinite(cpus) || cpus < 0.01 || cpus > max) throw new UsageError(`--cpus ${flags.cpus}: give a number of CPUs from 0.01 to ${max} (this machine's count), e.g. --cpus 1.5.`);
    const period = 100_000;
    resources.cpu = { quota: Math.round(cpus * period), period };
  }
  if (flags.pidsLimit !== undefined) {
    const limit = Number(flags.pidsLimit);
    if (!Number.isInteger(limit)) throw new UsageError(`--pids-limit ${flags.pidsLimit}: give a whole number of processes (0 or -1 for no limit).`);
    if (limit > 0) resources.pids = { limit };
  }
  return Object.keys(resources).length > 0 ? resources : undefined;
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
    throw new UsageError('--privileged is not supported by ribo: a rootless container cannot get the host\'s devices. Add what the program needs instead, e.g. --cap-add SYS_ADMIN --security-opt seccomp=unconfined.');
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
  const mounts: Mount[] = [];
  const volumes: VolumeRequest[] = [];
  const binds = { chown: [] as string[], missing: [] as string[] };
  const add = (mount: Mount | VolumeRequest) => (isVolumeRequest(mount) ? volumes.push(mount) : mounts.push(mount));
  for (const value of flags.volume ?? []) add(await parseVolume(value, ctx, binds));
  for (const value of flags.mount ?? []) add(await parseMount(value, ctx));
  for (const value of flags.tmpfs ?? []) mounts.push(parseTmpfs(value));
  const ports = (flags.publish ?? []).flatMap((value) => parsePublish(value));
  if ((ports.length > 0 || flags.publishAll) && network === 'container') {
    const flag = ports.length > 0 ? `-p ${flags.publish![0]}` : '-P';
    throw new UsageError(`${flag}: a container sharing another's network (--network ${flags.network}) has that container's ports; publish them when you run that one. Leave out ${flag.split(' ')[0]}.`);
  }
  if ((ports.length > 0 || flags.publishAll) && (network === 'host' || network === 'none' || network === 'private')) {
    const flag = ports.length > 0 ? `-p ${flags.publish![0]}` : '-P';
    throw new UsageError(`${flag}: ports cannot be published with --network ${network}${network === 'host' ? ' (the container\'s ports are already the host\'s own; connect to them directly)' : ' (the container has no way out)'}. Leave out ${flag.split(' ')[0]} or use the default network (--network bridge).`);
  }
  const dns = (flags.dns ?? []).flatMap((d) => d.split(',')).filter(Boolean);
  for (const server of dns) if (!net.isIP(server)) throw new UsageError(`--dns ${server}: not an IP address; give a name server's address, e.g. --dns 9.9.9.9.`);
  const addHosts = (flags.addHost ?? []).map((entry) => {
    const match = /^([^:=\s]+)[:=](.+)$/.exec(entry);
    if (!match || !(net.isIP(match[2]!) || match[2] === 'host-gateway')) throw new UsageError(`--add-host ${entry}: expected NAME:IP (or NAME:host-gateway), e.g. --add-host db:10.0.0.5.`);
    return { name: match[1]!, ip: match[2]! };
  });
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
  };
}

/** --network: a mode, container:NAME, or the name of a network between containers. */
function parseNetwork(value: string | undefined): { network: NetworkMode | 'default'; networkName?: string; networkContainer?: string } {
  const requested = value ?? 'default';
  if ((NETWORK_MODES as readonly string[]).includes(requested)) return { network: requested === 'bridge' ? 'default' : (requested as NetworkMode | 'default') };
  if (requested.startsWith('container:') && requested.length > 'container:'.length) return { network: 'container', networkContainer: requested.slice('container:'.length) };
  if (isNetworkName(requested)) return { network: 'named', networkName: requested };
  throw new UsageError(`--network ${requested}: not a network mode or network name; use bridge (the default: its own network namespace reaching out through pasta), host, none, private (only lo), pasta, slirp4netns, container:NAME, or a network made with ribo network create.`);
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
