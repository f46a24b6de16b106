import { readFile } from 'node:fs/promises';
import { RiboError } from '../errors.js';

/** Container images use ids up to 65535 (nobody/nogroup), so ribo needs that many above the user's own. */
export const REQUIRED_SUBORDINATE_IDS = 65536;

export interface SubordinateRange {
  start: number;
  count: number;
}

export class RootlessSetupError extends RiboError {}

/** Parses /etc/subuid or /etc/subgid lines "name-or-uid:start:count" for one user. */
export function parseSubordinateRanges(text: string, user: string, uid: number): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (owner === undefined || start === undefined || count === undefined) continue;
    if (owner !== user && owner !== String(uid)) continue;
    const range = { start: Number(start), count: Number(count) };
    if (Number.isInteger(range.start) && Number.isInteger(range.count) && range.count > 0) ranges.push(range);
  }
  return ranges;
}

/**
 * Fails with the exact fix when `user` lacks a subordinate range big enough
 * for a container's id space in /etc/subuid or /etc/subgid.
 */
export async function checkSubordinateIds(user: string, uid: number, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): Promise<void> {
  for (const [kind, file] of [['uid', files.subuid], ['gid', files.subgid]] as const) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const ranges = parseSubordinateRanges(text, user, uid);
    const largest = Math.max(0, ...ranges.map((r) => r.count));
    if (largest >= REQUIRED_SUBORDINATE_IDS - 1) continue;
    const found = ranges.length === 0 ? `has no range for user "${user}"` : `gives user "${user}" only ${largest} ids`;
    throw new RootlessSetupError(
      `Rootless mode needs subordinate ${kind}s: ${file} ${found}, and ribo needs ${REQUIRED_SUBORDINATE_IDS}. ` +
        `Add a line "${user}:100000:${REQUIRED_SUBORDINATE_IDS}" to both /etc/subuid and /etc/subgid (as root: ` +
        `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}), choosing a start that no other user's range overlaps.`,
    );
  }
}

/** Total number of ids mapped into the current user namespace, from /proc/self/uid_map text. */
export function mappedIdCount(uidMapText: string): number {
  let total = 0;
  for (const line of uidMapText.trim().split('\n')) {
    const count = Number(line.trim().split(/\s+/)[2]);
    if (Number.isFinite(count)) total += count;
  }
  return total;
}
