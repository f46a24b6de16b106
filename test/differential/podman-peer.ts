/**
 * Rootless podman as the peer of a `ribo run` differential test: its own
 * store, run root and XDG dirs under one directory the tests' user owns,
 * runc (crun refuses this machine's hybrid cgroups) and overlay (vfs would
 * not be the podman users run), the image imported from a rootfs tar.
 */
import path from 'node:path';
import { makeOwnedDir, runAs, type RunResult, type User } from './cases.js';

export interface PodmanPeer {
  /** Runs `podman ARGS` as the user, on the peer's own storage. */
  run(args: string[]): Promise<RunResult>;
  /** The same as words for a command line of one's own (e.g. under script(1)). */
  words(args: string[]): string[];
  /** Removes the peer's storage (files of subordinate ids: from inside the user's namespace). */
  remove(): Promise<void>;
}

export async function rootlessPodman(parent: string, user: User | undefined, rootfsTar: string, image: string): Promise<PodmanPeer> {
  const dir = await makeOwnedDir(parent, 'podman', user);
  const env = { XDG_RUNTIME_DIR: path.join(dir, 'xdg'), XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') };
  const global = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--runtime', 'runc', '--storage-driver', 'overlay'];
  const peer: PodmanPeer = {
    run: (args) => runAs(user, 'podman', [...global, ...args], { env }),
    words: (args) => ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'podman', ...global, ...args],
    remove: async () => {
      await peer.run(['unshare', 'rm', '-rf', path.join(dir, 'root'), path.join(dir, 'run')]);
    },
  };
  const imported = await peer.run(['import', rootfsTar, image]);
  if (imported.exitCode !== 0) throw new Error(`podman import failed:\n${imported.stderr}`);
  return peer;
}
