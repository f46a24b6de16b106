/**
 * podman's `--userns keep-id` for ribo: the user who runs ribo has the same
 * uid and gid inside the container, runs as them by default, and finds an
 * entry of their own in the image's /etc/passwd and /etc/group.
 */
import { appendFile, chown, lstat, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { RiboError } from '../errors.js';

export class KeepIdError extends RiboError {}

/** The outside id that ribo's id 0 stands for, from /proc/self/uid_map or gid_map text. */
export function outsideIdOfRoot(mapText: string): number | undefined {
  for (const line of mapText.trim().split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (inside !== undefined && outside !== undefined && count !== undefined && inside <= 0 && inside + count > 0) return outside - inside;
  }
  return undefined;
}

/**
 * The caller's uid and gid as the host knows them; must run inside ribo's
 * namespace. keep-id is for rootless runs only, as with podman.
 */
export async function callerIds(idCount: number): Promise<{ uid: number; gid: number }> {
  const uid = outsideIdOfRoot(await readFile('/proc/self/uid_map', 'utf8'));
  const gid = outsideIdOfRoot(await readFile('/proc/self/gid_map', 'utf8'));
  if (uid === undefined || gid === undefined || uid === 0) {
    throw new KeepIdError('--userns keep-id is only for rootless runs (ribo started by a user other than root), as with podman; leave the flag out when running as root.');
  }
  if (uid >= idCount - 1 || gid >= idCount - 1) {
    throw new KeepIdError(`--userns keep-id: your uid ${uid} / gid ${gid} must be below the ${idCount} ids of ribo's namespace; give your user a larger subordinate range in /etc/subuid and /etc/subgid.`);
  }
  return { uid, gid };
}

async function hasEntry(file: string, id: number): Promise<boolean> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').some((line) => line.split(':')[2] === String(id));
}

/** Appends a line to a regular file (created when missing), after a newline when the file's last line lacks one. */
async function appendLine(file: string, line: string): Promise<void> {
  // A link could lead out of the container's root: leave such an image's files alone.
  const kind = await lstat(file).catch(() => undefined);
  if (kind && !kind.isFile()) return;
  const text = await readFile(file, 'utf8').catch(() => '');
  await appendFile(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`, { mode: 0o644 });
}

async function hostEntry(file: string, id: number): Promise<string[] | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').map((l) => l.split(':')).find((f) => f[2] === String(id));
}

/**
 * Adds the caller to the image's /etc/passwd and /etc/group when their ids
 * have no entry yet (podman does the same), named as on the host, with the
 * host's home path and /bin/sh. The change is the container's, never the image's.
 */
export async function addCallerEntries(rootfs: string, ids: { uid: number; gid: number }): Promise<void> {
  const etc = path.join(rootfs, 'etc');
  const kind = await lstat(etc).catch(() => undefined);
  if (!kind) await mkdir(etc, { mode: 0o755 });
  else if (!kind.isDirectory()) return; // a link could lead out of the container's root
  const user = await hostEntry('/etc/passwd', ids.uid);
  const group = await hostEntry('/etc/group', ids.gid);
  const name = user?.[0] ?? `user${ids.uid}`;
  const passwd = path.join(etc, 'passwd');
  if (!(await hasEntry(passwd, ids.uid))) {
    await appendLine(passwd, `${name}:*:${ids.uid}:${ids.gid}:${name}:${user?.[5] || '/'}:/bin/sh`);
  }
  const groupFile = path.join(etc, 'group');
  if (!(await hasEntry(groupFile, ids.gid))) await appendLine(groupFile, `${group?.[0] ?? name}:x:${ids.gid}:`);
}

/**
 * With keep-id the runtime resolves the rootfs and the bind mounts' sources
 * as the container's root, which is one of the caller's subordinate ids, not
 * the caller: a directory on the way that only its owner may search (mode
 * 0700 and the like) stops it, unless the container's root may override
 * permissions there, which the kernel allows only when the directory's owner
 * and group are both ids of the namespace. A directory of the caller's whose
 * group is not theirs (made by root and given to them with `chown USER DIR`)
 * is such a case: it gets the caller's own group when its group bits grant
 * nothing, which changes no one's access and lets the runtime through
 * (podman asks users to `chmod o+x` such directories instead). Runs inside
 * ribo's namespace, where the caller is uid and gid 0.
 */
export async function letContainerRootReach(paths: string[]): Promise<void> {
  const seen = new Set<string>();
  for (const target of paths) {
    const real = await realpath(target).catch(() => path.resolve(target));
    for (let dir = path.dirname(real); !seen.has(dir); dir = path.dirname(dir)) {
      seen.add(dir);
      const info = await stat(dir).catch(() => undefined);
      const searchable = info !== undefined && (info.mode & 0o001) !== 0;
      if (info && !searchable && info.uid === 0 && info.gid !== 0 && (info.mode & 0o070) === 0) await chown(dir, 0, 0).catch(() => undefined);
      if (dir === '/') break;
    }
  }
}
