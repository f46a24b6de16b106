import { RiboError } from '../errors.js';
import { readAccountFile } from '../runtime/users.js';
import type { Owner } from '../files/tree-copy.js';

export class ChownError extends RiboError {}

const NUMERIC = /^\d+$/;

async function findEntry(rootfs: string, file: '/etc/passwd' | '/etc/group', name: string): Promise<string[] | undefined> {
  return (await readAccountFile(rootfs, file)).find((fields) => fields[0] === name && fields.length >= 3);
}

/**
 * Resolves COPY/ADD --chown=USER[:GROUP] as BuildKit does: a user name takes
 * uid and primary gid from the image's /etc/passwd; a numeric uid without a
 * group uses the same number as gid; a group name comes from /etc/group.
 * Unlike BuildKit, which silently falls back to root, an unknown name is an
 * error: a file owned by the wrong user is worse than a failed build.
 */
export async function resolveChown(rootfs: string, spec: string, flag = '--chown'): Promise<Owner> {
  const colon = spec.indexOf(':');
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? undefined : spec.slice(colon + 1);
  let owner: Owner;
  if (userPart === '') owner = { uid: 0, gid: 0 };
  else if (NUMERIC.test(userPart)) owner = { uid: Number(userPart), gid: Number(userPart) };
  else {
    const entry = await findEntry(rootfs, '/etc/passwd', userPart);
    if (!entry) throw new ChownError(`${flag}=${spec}: user "${userPart}" is not in the image's /etc/passwd. Create the user in an earlier step (e.g. RUN adduser -D ${userPart}) or give a numeric uid.`);
    owner = { uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) owner.gid = Number(groupPart);
    else {
      const entry = await findEntry(rootfs, '/etc/group', groupPart);
      if (!entry) throw new ChownError(`${flag}=${spec}: group "${groupPart}" is not in the image's /etc/group. Create the group in an earlier step or give a numeric gid.`);
      owner.gid = Number(entry[2]);
    }
  }
  return owner;
}

/** Whether resolving `spec` needs the image's files (it names a user or group). */
export function chownNeedsImage(spec: string): boolean {
  return spec.split(':').some((part) => part !== '' && !NUMERIC.test(part));
}
