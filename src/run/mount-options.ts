/**
 * The mount flags of `ribo run`: -v, --mount and --tmpfs as docker reads them,
 * into bind mounts and volume requests (run-options.ts gathers them into the
 * RunSpec). Host paths are resolved here and checked later (volumes.ts).
 */
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { Mount } from '../oci/runtime-spec.js';
import { validateVolumeName } from '../store/volumes.js';

/** Where relative and `~/` host paths are taken from (run-options.ts's RunContext is one). */
export interface PathContext {
  /** The directory relative host paths are taken from. */
  cwd: string;
  /** ribo's own environment: HOME for `~/`. */
  env: NodeJS.ProcessEnv;
}

/** A volume (named or anonymous) rather than a bind or tmpfs mount. */
export function isVolumeRequest(mount: Mount | VolumeRequest): mount is VolumeRequest {
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

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size like docker's: a number of bytes with an optional b, k, m, g or t suffix. */
export function parseSize(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(value.trim());
  if (!match) throw new UsageError(`${flag} ${value}: not a size. Give bytes or a number with a unit, such as 512m or 2g.`);
  return Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
}

/** The container side of a mount: absolute, normalised, never the root itself. */
function containerPath(target: string, flag: string, value: string): string {
  if (!target.startsWith('/')) throw new UsageError(`${flag} ${value}: the container path "${target}" must be absolute (start with /).`);
  const normal = path.posix.normalize(target);
  if (normal === '/') throw new UsageError(`${flag} ${value}: cannot mount over the container's root; choose a directory such as /data.`);
  return normal.replace(/\/$/, '');
}

/** The host side of a bind, and whether it is there yet (the caller decides what a missing one means). */
async function hostPath(source: string, ctx: PathContext): Promise<{ full: string; exists: boolean }> {
  const full = path.resolve(ctx.cwd, source.startsWith('~/') ? path.join(ctx.env.HOME ?? os.homedir(), source.slice(2)) : source);
  return { full, exists: await stat(full).then(() => true, () => false) };
}

const PROPAGATIONS = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

/**
 * -v HOST:CONTAINER[:OPTIONS] binds a host path, -v NAME:CONTAINER[:OPTIONS]
 * mounts a named volume, -v CONTAINER an anonymous one, as with docker.
 * Options: ro, rw, a propagation mode, nocopy (volumes), podman's U; SELinux's z/Z are accepted and ignored.
 */
export async function parseVolume(value: string, ctx: PathContext, binds: { chown: string[]; missing: string[] }): Promise<Mount | VolumeRequest> {
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

export function isTrue(value: string | undefined, flag: string, key: string): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new UsageError(`${flag}: ${key}=${value} must be true or false.`);
}

/** --mount type=bind,source=,target=[,readonly], type=volume[,source=NAME],target=[,readonly][,volume-nocopy] or type=tmpfs,target=[,tmpfs-size=][,tmpfs-mode=]. */
export async function parseMount(value: string, ctx: PathContext): Promise<Mount | VolumeRequest> {
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
export function parseTmpfs(value: string): Mount {
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
