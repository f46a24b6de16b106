/**
 * RUN --mount=type=ssh, as BuildKit gives it: an SSH agent the build was
 * given (`ribo build --ssh ID[=SOCKET]`) as a socket in the step, owned and
 * moded as the mount asks (root's, 0600, by default), at
 * /run/buildkit/ssh_agent.N unless target= says otherwise. The step's socket
 * is ribo's own: each connection to it is relayed to the agent, so the
 * agent's socket keeps its owner and mode and never enters the container.
 * Neither the agent nor its keys are part of the step's cache key.
 */
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Mount } from '../oci/runtime-spec.js';

/** What an ssh mount adds to a step being set up. */
interface SshRun {
  mounts: Mount[];
  targets: string[];
}

export interface PlannedSshMount {
  /** The step's cache-key input: the mount's settings only. */
  input: string;
  /** Where SSH_AUTH_SOCK points, for the first ssh mount of a RUN. */
  target: string;
  setup(run: SshRun): Promise<() => Promise<void>>;
}

/**
 * One ssh mount: `sshIndex` is its place among the RUN's ssh mounts (the
 * default target's N). An agent the build was not given is an error only
 * with required=true; otherwise the mount is left out, as BuildKit does.
 */
export function planSshMount(options: Record<string, string | undefined>, sshIndex: number, agents: ReadonlyMap<string, string>, absolute: (target: string) => string, fail: (message: string) => never): PlannedSshMount {
  if (options.source !== undefined || options.from !== undefined) fail('an ssh mount takes no source= or from= (it is the agent given with ribo build --ssh).');
  const id = options.id ?? 'default';
  const target = options.target ? absolute(options.target) : `/run/buildkit/ssh_agent.${sshIndex}`;
  const owner = { uid: Number(options.uid ?? 0), gid: Number(options.gid ?? 0), mode: options.mode === undefined ? 0o600 : Number.parseInt(options.mode, 8) };
  const input = JSON.stringify({ type: 'ssh', id, target, required: options.required ?? 'false', ...owner });
  const setup = async (run: SshRun) => {
    const agent = agents.get(id);
    if (!agent) {
      if (options.required === 'true') fail(`the SSH agent "${id}" is required but was not given; pass it with ribo build --ssh ${id === 'default' ? 'default' : `${id}=SOCKET`}.`);
      return async () => {};
    }
    const proxy = await startAgentRelay(agent, owner);
    run.mounts.push({ destination: target, type: 'bind', source: proxy.socket, options: ['bind', 'nosuid', 'nodev', 'noexec'] });
    run.targets.push(target);
    return proxy.stop;
  };
  return { input, target, setup };
}

/**
 * A socket of ribo's own relaying each connection to `agent`. It lives in a
 * 0700 directory under the system's temp dir: a Unix socket's path must stay
 * under 108 bytes, which a store's own paths may not.
 */
export async function startAgentRelay(agent: string, owner: { uid: number; gid: number; mode: number }): Promise<{ socket: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-ssh-'));
  const socket = path.join(dir, 'agent.sock');
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(agent);
    for (const end of [client, upstream]) {
      open.add(end);
      end.on('error', () => end.destroy());
      end.on('close', () => {
        open.delete(end);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    await chown(socket, owner.uid, owner.gid);
    await chmod(socket, owner.mode);
  } catch (error) {
    server.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    for (const end of open) end.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  return { socket, stop };
}
