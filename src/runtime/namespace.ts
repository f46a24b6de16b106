import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { RiboError } from '../errors.js';
import { checkSubordinateIds, mappedIdCount, RootlessSetupError } from './subids.js';
import { findExecutable } from '../files/executables.js';

/** Set in the environment of the re-executed ribo that runs inside its namespaces. */
export const NAMESPACE_MARKER = 'RIBO_IN_NAMESPACE';

export interface NamespaceInfo {
  /** True when ribo was started by a user other than root and runs in a user namespace. */
  rootless: boolean;
  /** Number of uids (and gids) usable inside: container ids must stay below it. */
  idCount: number;
}

export function insideNamespace(env: NodeJS.ProcessEnv): boolean {
  return env[NAMESPACE_MARKER] === '1' || env[NAMESPACE_MARKER] === 'rootless';
}

/** What the namespace ribo runs in gives it; only meaningful inside it. */
export async function currentNamespace(env: NodeJS.ProcessEnv): Promise<NamespaceInfo> {
  const uidMap = await readFile('/proc/self/uid_map', 'utf8');
  return { rootless: env[NAMESPACE_MARKER] === 'rootless', idCount: Math.min(mappedIdCount(uidMap), 2 ** 32 - 1) };
}

/**
 * Runs `argv` (a ribo command line) again inside a private mount namespace, and
 * for a non-root user inside a user namespace that maps the user to 0 and the
 * user's subordinate ids above it, so mounts, chown and the OCI runtime work
 * without privileges. Resolves with the exit code the inner ribo returned.
 */
export async function reexecInNamespace(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const rootless = process.getuid?.() !== 0;
  const unshareArgs = ['--mount', '--propagation', 'private'];
  if (rootless) {
    const user = os.userInfo();
    await checkSubordinateIds(user.username, user.uid);
    for (const tool of ['newuidmap', 'newgidmap']) {
      if (!(await findExecutable(tool))) {
        throw new RootlessSetupError(`Rootless mode needs ${tool}, which is not installed. Install the uidmap package (as root: apt-get install uidmap).`);
      }
    }
    unshareArgs.unshift('--map-auto', '--map-root-user');
  }
  const unshare = await findExecutable('unshare');
  if (!unshare) throw new RiboError('ribo needs the unshare command from util-linux; install util-linux (as root: apt-get install util-linux).');
  return runInnerRibo(unshare, [...unshareArgs, '--', ...nodeCommand(argv)], { ...env, [NAMESPACE_MARKER]: rootless ? 'rootless' : '1' });
}

/** Node running `argv` with this process's Node flags (bin/ribo chooses the heap's; each set of flags has its own code cache). */
function nodeCommand(argv: string[]): string[] {
  return [process.execPath, ...process.execArgv, ...argv];
}

/**
 * Runs the inner ribo (behind unshare or nsenter) with our stdio and resolves
 * with its exit code. It gets the same terminal signals; the ones sent to us
 * alone are forwarded.
 */
function runInnerRibo(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(command, args, { stdio: 'inherit', env });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGTERM', 'SIGHUP', 'SIGINT'] as const).map((s) => [s, forward(s)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      for (const [s, handler] of handlers) process.off(s, handler);
      resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 1));
    });
  });
}

/**
 * Runs `argv` (a ribo command line) inside the user and mount namespaces of
 * the running process `pid` (a container's monitor), where that container's
 * overlay is mounted and its runtime state is valid: `ribo exec` works there.
 */
export async function reexecInNamespaceOf(pid: number, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const rootless = process.getuid?.() !== 0;
  const nsenter = await findExecutable('nsenter');
  if (!nsenter) throw new RiboError('ribo needs the nsenter command from util-linux to enter a running container; install util-linux (as root: apt-get install util-linux).');
  const nsenterArgs = rootless ? ['--preserve-credentials', '-U', '-m', '-t', String(pid)] : ['-m', '-t', String(pid)];
  return runInnerRibo(nsenter, [...nsenterArgs, '--', ...nodeCommand(argv)], { ...env, [NAMESPACE_MARKER]: rootless ? 'rootless' : '1' });
}

/**
 * Runs `argv` (a ribo command line) inside the user namespace of the running
 * process `pid` (a network's holder, or the monitor of a container whose
 * network is shared), with a private mount namespace of its own as
 * reexecInNamespace gives: containers started there have namespaces ribo may
 * connect to that network (networks/holder.ts).
 */
export async function reexecInUserNamespaceOf(pid: number, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const rootless = process.getuid?.() !== 0;
  const nsenter = await findExecutable('nsenter');
  const unshare = await findExecutable('unshare');
  if (!nsenter || !unshare) throw new RiboError('ribo needs the nsenter and unshare commands from util-linux; install util-linux (as root: apt-get install util-linux).');
  const unshareArgs = [unshare, '--mount', '--propagation', 'private', '--', ...nodeCommand(argv)];
  const marker = { ...env, [NAMESPACE_MARKER]: rootless ? 'rootless' : '1' };
  if (!rootless) return runInnerRibo(unshareArgs[0]!, unshareArgs.slice(1), marker);
  return runInnerRibo(nsenter, ['--preserve-credentials', '-U', '-t', String(pid), '--', ...unshareArgs], marker);
}

/**
 * Removes a tree that may hold files owned by subordinate ids (a container's
 * writable layer): directly as root or inside ribo's namespace, otherwise in
 * a throwaway user namespace where the user's ids are mapped.
 */
export async function removeOwnedTree(dir: string): Promise<void> {
  if (process.getuid?.() === 0 || insideNamespace(process.env)) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const unshare = await findExecutable('unshare');
  if (!unshare) throw new RiboError('ribo needs the unshare command from util-linux; install util-linux (as root: apt-get install util-linux).');
  const child = spawn(unshare, ['--map-auto', '--map-root-user', 'rm', '-rf', '--', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new RiboError(`Could not remove ${dir}: ${stderr.trim() || `rm exited ${code}`}. Check that your /etc/subuid and /etc/subgid ranges are unchanged.`);
}
