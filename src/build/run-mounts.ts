/**
 * RUN --mount: what each mount adds to the step's cache key, and setting the
 * mounts up around one container run. Nothing a mount holds ends up in the
 * step's layer: mounts are bind or tmpfs mounts in the container, and the
 * mount points the runtime had to create are removed afterwards.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, copyFile, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { RunMount, SourceLocation } from '../dockerfile/commands.js';
import type { LayerRef } from '../image/layers.js';
import type { Mount } from '../oci/runtime-spec.js';
import { withStoreLock } from '../store/index.js';
import { StoreLockTimeoutError } from '../store/errors.js';
import type { StepInputs } from './cache/build-cache.js';
import { digestCopySources } from './cache/context-digest.js';
import type { FileDigestCache } from './cache/file-digests.js';
import { copyFromContext } from './copy.js';
import { BuildStepError } from './errors.js';
import { resolveInRoot } from '../files/root-path.js';
import { planSshMount } from './ssh-mounts.js';

/** Where `ribo build --secret id=ID,...` takes a secret's value from. */
export type SecretSource = { file: string } | { env: string };

export interface RunMountEnv {
  storeRoot: string;
  contextDir: string;
  isIgnored: (rel: string) => boolean;
  contextDigests?: FileDigestCache;
  workingDir: string;
  /** --secret values of this build, by id. */
  secrets: ReadonlyMap<string, SecretSource>;
  /** --ssh agents of this build: their sockets, by id. */
  sshAgents: ReadonlyMap<string, string>;
  /** Resolves a mount's from= (a stage or an image) to its layers and cache key. */
  resolveFrom: (from: string) => Promise<{ layers: LayerRef[]; key: string }>;
  mountLayers: (layers: LayerRef[], dir: string) => Promise<{ dir: string; unmount: () => Promise<void> }>;
  /** The environment ribo runs in (secrets given with env=). */
  processEnv: NodeJS.ProcessEnv;
}

export interface MountedRun {
  mounts: Mount[];
  /** Variables the RUN gets from secrets with env=; never part of the cache key. */
  env: string[];
  /** Container paths of the mount points, whose stubs must not stay in the layer. */
  targets: string[];
}

export interface PlannedMounts {
  inputs: StepInputs;
  /** The first ssh mount's socket in the container: SSH_AUTH_SOCK, unless the step sets it (BuildKit's). */
  sshAuthSock?: string;
  /**
   * Sets the mounts up under `workDir` for a container whose root is `rootfs`
   * (mounted), runs `fn`, and takes them down again.
   */
  around<T>(workDir: string, rootfs: string, fn: (run: MountedRun) => Promise<T>): Promise<T>;
}

/** The directory holding the cache mounts of a store, one per id. */
export function cacheMountsDir(storeRoot: string): string {
  return path.join(storeRoot, 'run-cache');
}

interface Prepared {
  /** Adds this mount to `run`; returns what must be undone afterwards. */
  setup(workDir: string, run: MountedRun): Promise<() => Promise<void>>;
}

const OCTAL = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number.parseInt(value, 8));

function absoluteTarget(target: string, workingDir: string): string {
  return path.posix.resolve(workingDir || '/', target);
}

/** The size option of a tmpfs mount in bytes ("64m", "1g", "512MiB"...). */
function tmpfsBytes(size: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(size.trim())!;
  const power = ' kmgtp'.indexOf((match[2] || ' ').toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(() => true, () => false);
}

/** One mount of a RUN being planned: its place in the list, its options, where errors point. */
interface MountPlanning {
  env: RunMountEnv;
  index: number;
  options: Record<string, string | undefined>;
  location: SourceLocation;
}

/** A mount planned: its cache-key input and how to set it up. */
interface PlannedMount {
  input: string;
  prepared: Prepared;
}

function mountFailure(message: string, location: SourceLocation): never {
  throw new BuildStepError(`RUN --mount: ${message}`, location);
}

/**
 * Checks a RUN's mounts and works out their cache-key inputs: for a bind mount
 * of the context the content of exactly the files it exposes, for one from a
 * stage or image that stage's key; cache, tmpfs and secret mounts add only
 * their settings (a secret's value never enters the key, as with BuildKit).
 */
export async function planRunMounts(env: RunMountEnv, mounts: RunMount[], location: SourceLocation): Promise<PlannedMounts> {
  const inputs: StepInputs = {};
  const prepared: Prepared[] = [];
  let sshAuthSock: string | undefined;
  for (const [index, mount] of mounts.entries()) {
    const m = { env, index, options: mount.options, location };
    let planned: PlannedMount;
    if (mount.type === 'ssh') {
      const ssh = planSsh(m, mounts.slice(0, index).filter((x) => x.type === 'ssh').length);
      sshAuthSock ??= ssh.target;
      planned = ssh;
    } else planned = await planMount(m, mount.type);
    inputs[`mount ${index}`] = planned.input;
    prepared.push(planned.prepared);
  }
  return {
    inputs,
    ...(sshAuthSock ? { sshAuthSock } : {}),
    around: async (workDir, rootfs, fn) => {
      const run: MountedRun = { mounts: [], env: [], targets: [] };
      const undo: Array<() => Promise<void>> = [];
      await mkdir(workDir, { recursive: true });
      try {
        for (const p of prepared) undo.push(await p.setup(workDir, run));
        await resolveTargets(rootfs, run);
        // Parents before children: a mount inside another one's target must come after it.
        run.mounts.sort((a, b) => a.destination.split('/').length - b.destination.split('/').length);
        return await fn(run);
      } finally {
        for (const step of undo.reverse()) await step().catch(() => {});
      }
    },
  };
}

/** type=ssh (ssh-mounts.ts): `sshIndex` is its place among the RUN's ssh mounts. */
function planSsh(m: MountPlanning, sshIndex: number): PlannedMount & { target: string } {
  const planned = planSshMount(m.options, sshIndex, m.env.sshAgents, (target) => absoluteTarget(target, m.env.workingDir), (message) => mountFailure(message, m.location));
  return { input: planned.input, target: planned.target, prepared: { setup: (_workDir, run) => planned.setup(run) } };
}

async function planMount(m: MountPlanning, type: RunMount['type']): Promise<PlannedMount> {
  const o = m.options;
  if (type === 'secret') return planSecretMount(m);
  if (!o.target) return mountFailure(`a ${type} mount needs target= (where it appears in the container).`, m.location);
  const target = absoluteTarget(o.target, m.env.workingDir);
  if (target === '/') return mountFailure(`a ${type} mount cannot have / as its target.`, m.location);
  if (type === 'tmpfs') return planTmpfsMount(o, target);
  const from = o.from ? await m.env.resolveFrom(o.from).catch((error: Error) => mountFailure(`from=${o.from}: ${error.message}`, m.location)) : undefined;
  const source = path.posix.join('/', o.source ?? '/');
  if (type === 'cache') return planCacheMount(m, target, source, from);
  if (from) return planBindFromMount(m, target, source, from);
  return planContextBindMount(m, target, source);
}

/** type=secret: a --secret value as a read-only file (or a variable with env=), never in the key. */
function planSecretMount({ env, index: i, options: o, location }: MountPlanning): PlannedMount {
  const fail = (message: string) => mountFailure(message, location);
  const id = o.id ?? o.source ?? (o.target ? path.posix.basename(o.target) : undefined);
  if (!id) return fail('a secret mount needs id=.');
  const target = o.target ? absoluteTarget(o.target, env.workingDir) : o.env ? undefined : `/run/secrets/${id}`;
  const input = JSON.stringify({ type: 'secret', id, target: target ?? '', env: o.env ?? '', required: o.required ?? 'false', mode: o.mode ?? '', uid: o.uid ?? '', gid: o.gid ?? '' });
  const setup = async (workDir: string, run: MountedRun) => {
    const source = env.secrets.get(id);
    const value = source ? await readSecret(id, source, env.processEnv).catch((error: Error) => fail(error.message)) : undefined;
    if (value === undefined) {
      if (o.required === 'true') fail(`the secret "${id}" is required but was not given; pass it with ribo build --secret id=${id},src=FILE (or env=VARIABLE).`);
      return async () => {};
    }
    if (o.env) run.env.push(`${o.env}=${value.toString('utf8')}`);
    if (!target) return async () => {};
    const dir = await secretDir(workDir);
    const file = path.join(dir.path, `secret-${i}`);
    await writeFile(file, value, { mode: 0o600 });
    await chown(file, Number(o.uid ?? 0), Number(o.gid ?? 0));
    await chmod(file, OCTAL(o.mode, 0o400));
    run.mounts.push({ destination: target, type: 'bind', source: file, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
    run.targets.push(target);
    return dir.remove;
  };
  return { input, prepared: { setup } };
}

function planTmpfsMount(o: MountPlanning['options'], target: string): PlannedMount {
  const setup = async (_workDir: string, run: MountedRun) => {
    const options = ['nosuid', 'nodev', 'mode=1777', ...(o.size ? [`size=${tmpfsBytes(o.size)}`] : [])];
    run.mounts.push({ destination: target, type: 'tmpfs', source: 'tmpfs', options });
    run.targets.push(target);
    return async () => {};
  };
  return { input: JSON.stringify({ type: 'tmpfs', target, size: o.size ?? '' }), prepared: { setup } };
}

/** type=cache: a directory of the store kept across builds, per id, shared, locked or private. */
function planCacheMount({ env, index: i, options: o }: MountPlanning, target: string, source: string, from?: { layers: LayerRef[]; key: string }): PlannedMount {
  const readonly = o.readonly === 'true';
  const id = o.id ?? target;
  const sharing = o.sharing ?? 'shared';
  const input = JSON.stringify({ type: 'cache', target, id, sharing, readonly, mode: o.mode ?? '', uid: o.uid ?? '', gid: o.gid ?? '', from: from?.key ?? '', source });
  const dir = path.join(cacheMountsDir(env.storeRoot), hashId(id));
  const setup = async (workDir: string, run: MountedRun) => {
    let mountDir = path.join(dir, 'data');
    if (!(await exists(mountDir))) await createCacheDir(dir, from && (() => env.mountLayers(from.layers, path.join(workDir, `mount-${i}-from`))), source);
    // shared: used by concurrent builds as it is; locked: one build at a time;
    // private: a fresh directory for this run when another build holds it, as BuildKit does.
    let cleanup = sharing === 'shared' ? async () => {} : await acquireLock(`${dir}.lock`, sharing === 'locked' ? 24 * 3600 : 0);
    if (!cleanup) {
      const own = path.join(workDir, `mount-${i}-private`);
      mountDir = own;
      await mkdir(own, { recursive: true });
      cleanup = () => rm(own, { recursive: true, force: true });
    }
    if (o.uid !== undefined || o.gid !== undefined) await chown(mountDir, Number(o.uid ?? 0), Number(o.gid ?? 0));
    if (o.mode !== undefined) await chmod(mountDir, OCTAL(o.mode, 0o755));
    run.mounts.push({ destination: target, type: 'bind', source: mountDir, options: ['rbind', readonly ? 'ro' : 'rw'] });
    run.targets.push(target);
    return cleanup;
  };
  return { input, prepared: { setup } };
}

/** type=bind,from=STAGE|IMAGE: that stage's files, mounted over a throwaway upper dir. */
function planBindFromMount({ env, index: i, options: o, location }: MountPlanning, target: string, source: string, from: { layers: LayerRef[]; key: string }): PlannedMount {
  const readonly = o.readonly === 'true';
  const setup = async (workDir: string, run: MountedRun) => {
    // Changes (rw) go to the overlay's throwaway upper dir, so they are discarded.
    const mounted = await env.mountLayers(from.layers, path.join(workDir, `mount-${i}`));
    const host = await resolveInRoot(mounted.dir, source);
    if (!(await exists(host))) {
      await mounted.unmount();
      mountFailure(`source=${source} does not exist in ${o.from}.`, location);
    }
    run.mounts.push({ destination: target, type: 'bind', source: host, options: ['rbind', readonly ? 'ro' : 'rw'] });
    run.targets.push(target);
    return mounted.unmount;
  };
  return { input: JSON.stringify({ type: 'bind', target, source, from: from.key, readonly }), prepared: { setup } };
}

/** type=bind of the context: a snapshot of exactly the files its key covers. */
async function planContextBindMount({ env, index: i, options: o, location }: MountPlanning, target: string, source: string): Promise<PlannedMount> {
  const readonly = o.readonly === 'true';
  const rel = source === '/' ? '.' : source.slice(1);
  const host = await resolveInRoot(env.contextDir, rel);
  if (!host.startsWith(env.contextDir) || !(await exists(host))) return mountFailure(`source=${o.source ?? '/'} is not in the build context ${env.contextDir}.`, location);
  if (rel !== '.' && env.isIgnored(rel)) return mountFailure(`source=${o.source} is excluded by .dockerignore.`, location);
  const digest = await digestCopySources(env.contextDir, [rel], env.isIgnored, env.contextDigests);
  const setup = async (workDir: string, run: MountedRun) => {
    // .dockerignore'd files stay out, rw writes are discarded, and the context cannot change under the running step.
    const snapshot = path.join(workDir, `mount-${i}`);
    await mkdir(snapshot, { recursive: true });
    const info = await lstat(host);
    let mounted = snapshot;
    if (info.isDirectory()) {
      await copyFromContext({ contextDir: env.contextDir, sources: [rel === '.' ? '.' : rel.replace(/[*?[\\]/g, '\\$&')], dest: '/', rootfs: snapshot, owner: { uid: 0, gid: 0 }, isIgnored: env.isIgnored });
    } else {
      mounted = path.join(snapshot, path.basename(host));
      await copyFile(host, mounted);
      await chmod(mounted, info.mode & 0o7777);
    }
    run.mounts.push({ destination: target, type: 'bind', source: mounted, options: ['rbind', readonly ? 'ro' : 'rw'] });
    run.targets.push(target);
    return () => rm(snapshot, { recursive: true, force: true });
  };
  return { input: JSON.stringify({ type: 'bind', target, source, readonly, content: digest }), prepared: { setup } };
}

/**
 * A target reached through a symlink of the image (`/abs/x` with `/abs -> /data`)
 * is where the runtime makes its mount point: `/data/x`. The mounts and the
 * stubs to remove afterwards name that path, resolved once the same way
 * (files/root-path.ts), so no mount point dir is left in the layer.
 */
async function resolveTargets(rootfs: string, run: MountedRun): Promise<void> {
  const resolve = async (target: string) => `/${path.relative(rootfs, await resolveInRoot(rootfs, target))}`;
  for (const mount of run.mounts) mount.destination = await resolve(mount.destination);
  run.targets = await Promise.all(run.targets.map(resolve));
}

/**
 * Takes the flock on `file`, waiting up to `waitSeconds`; resolves with its
 * release, or undefined when another process holds it past that.
 */
async function acquireLock(file: string, waitSeconds: number): Promise<(() => Promise<void>) | undefined> {
  await mkdir(path.dirname(file), { recursive: true });
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  return new Promise((resolve, reject) => {
    const done: Promise<void> = withStoreLock(file, waitSeconds, async () => {
      resolve(async () => {
        release();
        await done;
      });
      await held;
    });
    done.catch((error: unknown) => {
      if (error instanceof StoreLockTimeoutError) resolve(undefined);
      else reject(error);
    });
  });
}

/** A new cache mount directory, seeded from from=/source= when given; made aside and renamed in. */
async function createCacheDir(dir: string, mountFrom: (() => Promise<{ dir: string; unmount: () => Promise<void> }>) | undefined, source: string): Promise<void> {
  const temp = `${dir}.${process.pid}.${Date.now()}.new`;
  await mkdir(path.join(temp, 'data'), { recursive: true });
  try {
    if (mountFrom) {
      const mounted = await mountFrom();
      try {
        const from = await resolveInRoot(mounted.dir, source);
        await execa('cp', ['-a', `${from}/.`, path.join(temp, 'data')]);
      } finally {
        await mounted.unmount();
      }
    }
    await mkdir(path.dirname(dir), { recursive: true });
    await rename(temp, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another build made it first: use theirs.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

async function readSecret(id: string, source: SecretSource, processEnv: NodeJS.ProcessEnv): Promise<Buffer> {
  if ('file' in source) {
    return readFile(source.file).catch((error: Error) => {
      throw new Error(`the secret "${id}" could not be read from ${source.file} (${error.message}); check the path given to --secret id=${id},src=FILE.`);
    });
  }
  const value = processEnv[source.env];
  if (value === undefined) throw new Error(`the secret "${id}" comes from the environment variable ${source.env}, which is not set.`);
  return Buffer.from(value);
}

/**
 * A private directory for secret files: a tmpfs where ribo may mount one, so the
 * secret never reaches a disk; otherwise a 0700 directory removed after the step.
 */
async function secretDir(workDir: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = path.join(workDir, 'secrets');
  if (await exists(dir)) return { path: dir, remove: async () => {} };
  await mkdir(dir, { mode: 0o700 });
  const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'mode=0700,size=16m,nosuid,nodev', 'tmpfs', dir], { reject: false });
  return {
    path: dir,
    remove: async () => {
      if (mounted.exitCode === 0) await execa('umount', [dir], { reject: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
