import { RiboError } from '../errors.js';
import { readFileInRoot } from '../files/read-in-root.js';

export class UnknownUserError extends RiboError {}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home?: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

/** The most ribo reads of an image's /etc/passwd or /etc/group (glibc's own files are far smaller). */
export const ACCOUNT_FILE_MAX_BYTES = 4 * 1024 * 1024;

/** The lines of an account file of the image, read inside the root and bounded (files/read-in-root.ts). */
export async function readAccountFile(rootfs: string, file: '/etc/passwd' | '/etc/group'): Promise<string[][]> {
  const text = (await readFileInRoot(rootfs, file, { maxBytes: ACCOUNT_FILE_MAX_BYTES, what: `The image's ${file}` })) ?? '';
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
}

async function passwdEntries(rootfs: string): Promise<PasswdEntry[]> {
  return (await readAccountFile(rootfs, '/etc/passwd')).map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' }));
}

async function groupEntries(rootfs: string): Promise<GroupEntry[]> {
  return (await readAccountFile(rootfs, '/etc/group')).map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

const NUMERIC = /^\d+$/;

/**
 * Resolves a Docker USER value ("name", "uid", "name:group", "uid:gid") the way
 * Docker does: names from the image's /etc/passwd and /etc/group, a bare
 * numeric uid allowed even when the image has no such user (gid then 0 unless
 * passwd says otherwise), supplementary groups from /etc/group.
 */
export async function resolveUser(rootfs: string, user: string | undefined): Promise<ResolvedUser> {
  const spec = user && user.length > 0 ? user : '0';
  const [userPart, groupPart] = spec.split(':', 2) as [string, string | undefined];
  const users = await passwdEntries(rootfs);
  const entry = NUMERIC.test(userPart) ? users.find((u) => u.uid === Number(userPart)) : users.find((u) => u.name === userPart);
  if (!entry && !NUMERIC.test(userPart)) {
    throw new UnknownUserError(`User "${userPart}" is not in the image's /etc/passwd; create it in the image (e.g. RUN useradd ${userPart}) or use a numeric uid.`);
  }
  const uid = entry ? entry.uid : Number(userPart);
  let gid = entry ? entry.gid : 0;
  const groups = await groupEntries(rootfs);
  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) gid = Number(groupPart);
    else {
      const group = groups.find((g) => g.name === groupPart);
      if (!group) throw new UnknownUserError(`Group "${groupPart}" is not in the image's /etc/group; create it in the image or use a numeric gid.`);
      gid = group.gid;
    }
  }
  const additionalGids = entry && groupPart === undefined ? groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid) : [];
  return { uid, gid, additionalGids, home: entry?.home };
}

/**
 * The supplementary groups of a container's process: its primary group first,
 * then the others, as docker sets them since 20.10.18 (CVE-2022-36109: with
 * the primary group missing from them, a permission that denies that group
 * could be got round).
 */
export function processGroups(user: Pick<ResolvedUser, 'gid' | 'additionalGids'>): number[] {
  return [user.gid, ...user.additionalGids.filter((g) => g !== user.gid)];
}

/**
 * --group-add's groups as gids: numbers as they are, names from the image's
 * /etc/group (a name it lacks is an error, as with docker).
 */
export async function resolveGroups(rootfs: string, groups: string[]): Promise<number[]> {
  if (groups.length === 0) return [];
  const entries = await groupEntries(rootfs);
  return groups.map((group) => {
    if (NUMERIC.test(group)) return Number(group);
    const entry = entries.find((g) => g.name === group);
    if (!entry) throw new UnknownUserError(`--group-add ${group}: the group is not in the image's /etc/group; add it to the image or give a numeric gid.`);
    return entry.gid;
  });
}

/** The supplementary groups with --group-add's after them, each once. */
export function withAddedGroups(groups: number[], added: number[]): number[] {
  return [...new Set([...groups, ...added])];
}
