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

/** Where ranges are first offered, as useradd does (SUB_UID_MIN in login.defs). */
const FIRST_FREE_START = 100000;

/** Every range of /etc/subuid or /etc/subgid text, whoever owns it. */
function allRanges(text: string): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (!owner || owner.startsWith('#') || start === undefined || count === undefined) continue;
    const range = { start: Number(start), count: Number(count) };
    if (Number.isInteger(range.start) && Number.isInteger(range.count) && range.count > 0) ranges.push(range);
  }
  return ranges;
}

/** The lowest start from 100000 on where `count` ids overlap no range of any of the files' texts. */
export function freeSubordinateRange(texts: string[], count = REQUIRED_SUBORDINATE_IDS): SubordinateRange {
  const taken = texts.flatMap(allRanges).sort((a, b) => a.start - b.start);
  let start = FIRST_FREE_START;
  for (let moved = true; moved; ) {
    moved = false;
    for (const range of taken) {
      if (range.start < start + count && start < range.start + range.count) {
        start = range.start + range.count;
        moved = true;
      }
    }
  }
  return { start, count };
}

/**
 * What is wrong with `user`'s subordinate ids, with the exact fix (a range no
 * other line of /etc/subuid or /etc/subgid overlaps), or undefined when
 * both files give the user enough.
 */
export async function subordinateIdProblem(user: string, uid: number, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): Promise<string | undefined> {
  const texts = { uid: await readFile(files.subuid, 'utf8').catch(() => ''), gid: await readFile(files.subgid, 'utf8').catch(() => '') };
  for (const [kind, file] of [['uid', files.subuid], ['gid', files.subgid]] as const) {
    const ranges = parseSubordinateRanges(texts[kind], user, uid);
    const largest = Math.max(0, ...ranges.map((r) => r.count));
    if (largest >= REQUIRED_SUBORDINATE_IDS - 1) continue;
    const found = ranges.length === 0 ? `has no range for user "${user}"` : `gives user "${user}" only ${largest} ids`;
    const free = freeSubordinateRange([texts.uid, texts.gid]);
    const last = free.start + free.count - 1;
    return (
      `Rootless mode needs subordinate ${kind}s: ${file} ${found}, and ribo needs ${REQUIRED_SUBORDINATE_IDS}. ` +
      `Give the user a range no other line of /etc/subuid or /etc/subgid overlaps, ${free.start}-${last} here (as root: ` +
      `usermod --add-subuids ${free.start}-${last} --add-subgids ${free.start}-${last} ${user}), ` +
      `or add the line "${user}:${free.start}:${free.count}" to both files.`
    );
  }
  return undefined;
}

/** Fails with the exact fix when `user` lacks a subordinate range big enough for a container's id space. */
export async function checkSubordinateIds(user: string, uid: number, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): Promise<void> {
  const problem = await subordinateIdProblem(user, uid, files);
  if (problem) throw new RootlessSetupError(problem);
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
