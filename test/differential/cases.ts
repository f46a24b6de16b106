/**
 * The cases of the differential suite and how each is built by both tools.
 *
 * A case is a directory under test/differential/cases/ with a Dockerfile and
 * its files, plus, when needed:
 * - case.json: { buildArgs?: {K: V}, target?: string, dockerfile?: string
 *   (path in the context), stdin?: true (Dockerfile on stdin, no context:
 *   `build -`), base?: { dir, tag } (a directory of the case built first
 *   by each tool and tagged so, for the Dockerfile's FROM), buildahDockerfile
 *   and buildahDockerfileReason (a Dockerfile of the same meaning without the
 *   syntax buildah 1.28 lacks, and why) }
 * - prepare.sh: run at test time in the temporary copy of the case (as the
 *   user the tools run as) to make what cannot be committed: archives,
 *   symlinks, odd modes. It is removed before the build.
 * - differences.json: the differences allowed between the two images (compare.ts).
 * - fails.json: { line, reason }: both tools must refuse the build, and
 *   ribo's error must name the Dockerfile and that line.
 * A static busybox is copied to busybox in every context (and base directory).
 */
import { execa } from 'execa';
import { access, chown, constants, cp, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AllowedDifference } from './compare.js';

export const BUSYBOX = '/bin/busybox';

export interface CaseOptions {
  buildArgs?: Record<string, string>;
  target?: string;
  dockerfile?: string;
  stdin?: boolean;
  base?: { dir: string; tag: string };
  /** A Dockerfile of the same meaning for buildah, where buildah 1.28 lacks the syntax (heredocs). */
  buildahDockerfile?: string;
  /** Why buildahDockerfile is needed (required with it). */
  buildahDockerfileReason?: string;
}

export interface Case {
  name: string;
  dir: string;
  options: CaseOptions;
  allowed: AllowedDifference[];
  fails?: { line: number; reason: string };
}

async function readJSON<T>(file: string): Promise<T | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

export async function loadCases(casesDir: string): Promise<Case[]> {
  const names = (await readdir(casesDir)).sort();
  return Promise.all(names.map(async (name) => {
    const dir = path.join(casesDir, name);
    return {
      name,
      dir,
      options: (await readJSON<CaseOptions>(path.join(dir, 'case.json'))) ?? {},
      allowed: (await readJSON<AllowedDifference[]>(path.join(dir, 'differences.json'))) ?? [],
      fails: await readJSON<{ line: number; reason: string }>(path.join(dir, 'fails.json')),
    };
  }));
}

export interface User { name: string; uid: number; gid: number; home: string }

export async function lookupUser(name: string): Promise<User> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const fields = passwd.split('\n').find((l) => l.startsWith(`${name}:`))?.split(':');
  if (!fields) throw new Error(`user ${name} does not exist; run make test as root to create it`);
  return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}

export interface RunResult { exitCode: number; stdout: string; stderr: string }

const PATH = `${path.dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/** Whether a program is on the PATH the tools are run with. */
export async function onPath(program: string): Promise<boolean> {
  for (const dir of PATH.split(':')) {
    if (await access(path.join(dir, program), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

/** Runs a command as `user` (via runuser when we are root and it is another user), with a clean environment. */
export async function runAs(user: User | undefined, command: string, args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const env = { PATH, HOME: user?.home ?? os.homedir(), ...opts.env };
  const common = { reject: false, cwd: opts.cwd ?? '/', extendEnv: false, ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }) };
  const result = user && process.getuid?.() === 0 && user.name !== 'root'
    ? await execa('runuser', ['-u', user.name, '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args], { ...common, env: { PATH } })
    : await execa(command, args, { ...common, env });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Copies a case into a fresh directory the tools' user owns, adds busybox, runs prepare.sh. */
export async function prepareContext(c: Case, into: string, user: User | undefined): Promise<string> {
  const ctx = path.join(into, c.name);
  await cp(c.dir, ctx, { recursive: true, verbatimSymlinks: true });
  for (const meta of ['case.json', 'differences.json', 'fails.json']) await rm(path.join(ctx, meta), { force: true });
  const dirs = [ctx, ...(c.options.base ? [path.join(ctx, c.options.base.dir)] : [])];
  for (const dir of dirs) await cp(BUSYBOX, path.join(dir, 'busybox'));
  if (user && process.getuid?.() === 0) await execa('chown', ['-R', `${user.uid}:${user.gid}`, ctx]);
  if (await stat(path.join(ctx, 'prepare.sh')).catch(() => undefined)) {
    const result = await runAs(user, 'sh', ['-eu', 'prepare.sh'], { cwd: ctx });
    if (result.exitCode !== 0) throw new Error(`${c.name}/prepare.sh failed:\n${result.stdout}\n${result.stderr}`);
    await rm(path.join(ctx, 'prepare.sh'));
  }
  return ctx;
}

/** A directory owned by the tools' user (so buildah and ribo can write there). */
export async function makeOwnedDir(parent: string, name: string, user: User | undefined): Promise<string> {
  const dir = path.join(parent, name);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  if (user && process.getuid?.() === 0) await chown(dir, user.uid, user.gid);
  return dir;
}

/** The build flags both tools share. */
export function buildFlags(c: Case, ctx: string, tag: string, dockerfile = c.options.dockerfile): string[] {
  const flags = ['-t', tag];
  for (const [k, v] of Object.entries(c.options.buildArgs ?? {})) flags.push('--build-arg', `${k}=${v}`);
  if (c.options.target) flags.push('--target', c.options.target);
  if (c.options.stdin) return [...flags, '-'];
  if (dockerfile) flags.push('-f', path.join(ctx, dockerfile));
  return [...flags, ctx];
}

/** Runs jobs with at most `limit` at a time; each job's promise settles on its own. */
export function pool<T>(limit: number, jobs: Array<() => Promise<T>>): Array<Promise<T>> {
  let next = 0;
  const results = jobs.map(() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    promise.catch(() => undefined); // reported by the test that awaits it
    return { promise, resolve, reject };
  });
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      try { results[i]!.resolve(await jobs[i]!()); } catch (e) { results[i]!.reject(e); }
    }
  };
  for (let w = 0; w < Math.min(limit, jobs.length); w++) void worker();
  return results.map((r) => r.promise);
}
