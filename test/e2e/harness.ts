/**
 * Runs the real ribo CLI the way a user does. As root (CI) it runs ribo as the
 * unprivileged user that test/setup/prepare-e2e.sh made (RIBO_E2E_USER), from
 * the copy of the build that user can read (RIBO_E2E_APP); otherwise as the
 * current user from this checkout.
 */
import { execa } from 'execa';
import { access, chown, mkdtemp, readFile, rename, rm, cp, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const E2E_USER = process.env.RIBO_E2E_USER;
const APP_DIR = process.env.RIBO_E2E_APP ?? PROJECT_ROOT;

export type DriverName = 'overlay' | 'fuse-overlayfs' | 'copy';
export type RuntimeName = 'crun' | 'runc';

export interface RiboResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RiboOptions {
  root: string;
  driver?: DriverName;
  runtime?: RuntimeName;
  /** Run as this user instead of the e2e user (e.g. 'root', or one without subuids). */
  asUser?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** What ribo reads on stdin (default: nothing). */
  input?: string | Buffer;
}

async function userIds(user: string): Promise<{ uid: number; gid: number; home: string }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`test user ${user} does not exist; run make test as root to create it`);
  const fields = line.split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}

/** A fresh, empty store directory owned by the user ribo runs as. */
export async function makeStore(owner = E2E_USER): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-store-'));
  if (owner && owner !== 'root' && process.getuid?.() === 0) {
    const ids = await userIds(owner);
    await chown(dir, ids.uid, ids.gid);
  }
  return dir;
}

export async function removeStore(dir: string): Promise<void> {
  // Retried: a ribo process a test left finishing in the background (a container's clean-up after its exit, a
  // planned run's removal of its container dir) may still add or remove entries for a moment (ENOTEMPTY).
  if (process.getuid?.() === 0) await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  else {
    // Files owned by subordinate ids can only be removed from inside a user namespace.
    await execa('unshare', ['--map-auto', '--map-root-user', 'rm', '-rf', dir], { reject: false });
  }
}

/** A build context: a copy of a fixture dir plus extra files, readable by everyone. */
export async function makeContext(files: Record<string, string>, fixture?: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-ctx-'));
  if (fixture) await cp(path.join(PROJECT_ROOT, 'fixtures', fixture), dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await (await import('node:fs/promises')).writeFile(path.join(dir, name), content);
  }
  await execa('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

export async function ribo(args: string[], opts: RiboOptions): Promise<RiboResult> {
  // bin/ribo is run as users run it (executed, so its shell part enters the namespace for `run`), with this Node first in PATH.
  const env: Record<string, string> = { PATH: `${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...opts.env };
  if (opts.driver) env.RIBO_STORAGE_DRIVER = opts.driver;
  if (opts.runtime) env.RIBO_RUNTIME = opts.runtime;
  const user = opts.asUser ?? E2E_USER;
  const riboArgs = [path.join(APP_DIR, 'bin/ribo'), '--root', opts.root, ...args];
  let result;
  if (user && user !== os.userInfo().username) {
    const home = (await userIds(user)).home;
    result = await execa('runuser', ['-u', user, '--', 'env', `HOME=${home}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...riboArgs], {
      reject: false,
      cwd: opts.cwd ?? '/',
      env: { PATH: env.PATH! },
      extendEnv: false,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  } else {
    result = await execa(riboArgs[0]!, riboArgs.slice(1), { reject: false, cwd: opts.cwd, env: { ...env, HOME: os.homedir() }, extendEnv: false, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  }
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Like ribo() but fails the test, showing ribo's output, unless it exits 0. */
export async function riboOk(args: string[], opts: RiboOptions): Promise<RiboResult> {
  const result = await ribo(args, opts);
  if (result.exitCode !== 0) {
    throw new Error(`ribo ${args.join(' ')} exited ${result.exitCode}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  return result;
}

export interface TarEntry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  path: string;
}

/** Lists a (gzip) layer tar with GNU tar, an independent reader of what ribo wrote. */
export async function listLayer(blobPath: string): Promise<TarEntry[]> {
  const { stdout } = await execa('tar', ['--numeric-owner', '-tvzf', blobPath]);
  return stdout.split('\n').filter(Boolean).map((line) => {
    const fields = line.split(/\s+/);
    const [uid, gid] = fields[1]!.split('/').map(Number);
    const name = fields.slice(5).join(' ').split(' -> ')[0]!.split(' link to ')[0]!;
    return { type: fields[0]![0]!, mode: fields[0]!, uid: uid!, gid: gid!, path: name };
  });
}

export interface StoredImage {
  index: { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  manifest: { config: { digest: string }; layers: Array<{ digest: string; mediaType: string }> } & Record<string, unknown>;
  config: Record<string, any>;
}

export function blobPath(root: string, digest: string): string {
  return path.join(root, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** Reads a tagged image straight from the OCI layout on disk, as another tool would. */
export async function readImage(root: string, refName: string): Promise<StoredImage> {
  const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8'));
  const entry = index.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === refName);
  if (!entry) throw new Error(`no ${refName} in ${root}/index.json: ${JSON.stringify(index)}`);
  const manifest = JSON.parse(await readFile(blobPath(root, entry.digest), 'utf8'));
  const config = JSON.parse(await readFile(blobPath(root, manifest.config.digest), 'utf8'));
  return { index, manifest, config };
}

const CACHE_DIR = '/var/tmp/ribo-test-cache';
const TARBALL = path.join(CACHE_DIR, 'bookworm-minbase.tar');

/** A Debian bookworm minbase rootfs tarball made by mmdebstrap, cached between runs. */
export async function debianTarball(): Promise<string> {
  if (await access(TARBALL).then(() => true, () => false)) return TARBALL;
  await mkdir(CACHE_DIR, { recursive: true, mode: 0o755 });
  const partial = `${TARBALL}.partial-${process.pid}`;
  const mode = process.getuid?.() === 0 ? 'root' : 'unshare';
  await execa('mmdebstrap', [`--mode=${mode}`, '--variant=minbase', '--format=tar', '--quiet', 'bookworm', partial]);
  await execa('chmod', ['a+r', partial]);
  await rename(partial, TARBALL);
  return TARBALL;
}

/**
 * Starts ribo without waiting for it, in a process group of its own (as the
 * e2e user when there is one), so a test can kill it midway: `process.kill(-child.pid!, 'SIGKILL')`.
 * (Wrapped in an object: awaiting the subprocess itself would wait for it to end.)
 */
export async function spawnRibo(args: string[], opts: RiboOptions) {
  // Executed as ribo() does it, so the shell part of bin/ribo runs too.
  const env: Record<string, string> = { PATH: `${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...opts.env };
  if (opts.driver) env.RIBO_STORAGE_DRIVER = opts.driver;
  if (opts.runtime) env.RIBO_RUNTIME = opts.runtime;
  const user = opts.asUser ?? E2E_USER;
  const riboArgs = [path.join(APP_DIR, 'bin/ribo'), '--root', opts.root, ...args];
  if (user && user !== os.userInfo().username) {
    const home = (await userIds(user)).home;
    return { child: execa('runuser', ['-u', user, '--', 'env', `HOME=${home}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...riboArgs], { reject: false, detached: true, cwd: '/', env: { PATH: env.PATH! }, extendEnv: false }) };
  }
  return { child: execa(riboArgs[0]!, riboArgs.slice(1), { reject: false, detached: true, env: { ...env, HOME: os.homedir() }, extendEnv: false }) };
}

/**
 * Resolves once what `stream` (a spawned ribo's stdout) has written contains
 * `text`: a container has reached that point of its script (e.g. its signal
 * trap is set). Rejects if the stream ends first or after `timeoutMs`.
 */
export function outputReaches(stream: NodeJS.ReadableStream | null | undefined, text: string, timeoutMs = 60_000): Promise<void> {
  if (!stream) return Promise.reject(new Error('no output stream to watch'));
  const reached = new Promise<void>((resolve, reject) => {
    let seen = '';
    const done = (error?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer | string) => {
      seen += String(chunk);
      if (seen.includes(text)) done();
    };
    const onEnd = () => done(new Error(`the output ended without ${JSON.stringify(text)}: ${JSON.stringify(seen)}`));
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${JSON.stringify(text)} in the output: ${JSON.stringify(seen)}`)), timeoutMs);
    stream.on('data', onData);
    stream.on('end', onEnd);
  });
  // A caller may await it only after other steps: its failure is reported then, not as an unhandled rejection.
  reached.catch(() => undefined);
  return reached;
}

/** Polls `probe` every 100 ms until it gives a value; fails naming `what` after `timeoutMs` (generous: CI machines are slow and shared). */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
