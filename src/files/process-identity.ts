import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/*
 * Temporary entries (ingest files, scratch dirs) carry the identity of the
 * process that made them in their name: "<pid>.<start>-...". A pid alone is
 * not enough because pids are reused; the kernel's start time of the process
 * (field 22 of /proc/<pid>/stat, in clock ticks since boot) tells a recycled
 * pid apart from the original owner.
 */

export interface ProcessIdentity {
  pid: number;
  start: number;
}

const OWNER_PREFIX = /^(\d+)\.(\d+)-/;

/** State (R, S, Z, …) and start time of a process, or undefined when it does not exist or /proc is unavailable. */
function processStat(pid: number): { state: string; start: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses, so count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // A zombie (state Z: killed, not yet reaped, as under an init that never reaps) is dead.
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  const start = Number(fields[19]);
  return Number.isFinite(start) ? { state: fields[0]!, start } : undefined;
}

function processStartTime(pid: number): number | undefined {
  return processStat(pid)?.start;
}

/** The identity of a running process, or undefined when it is gone. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const start = processStartTime(pid);
  return start === undefined ? undefined : { pid, start };
}

/**
 * When a process started, in milliseconds since the epoch: its start time
 * counts clock ticks (USER_HZ, 100 on Linux) since boot, which /proc/stat's
 * btime gives in seconds since the epoch. Undefined without /proc.
 */
export function startedAtMs(identity: ProcessIdentity): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const bootSeconds = Number(/^btime (\d+)$/m.exec(stat)?.[1]);
  return Number.isFinite(bootSeconds) ? bootSeconds * 1000 + identity.start * 10 : undefined;
}

export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, start: processStartTime(process.pid) ?? 0 };
}

/** A unique file name owned by `owner`, with an optional readable middle part. */
export function ownedName(owner: ProcessIdentity, label?: string): string {
  const unique = randomBytes(6).toString('hex');
  return label ? `${owner.pid}.${owner.start}-${label}-${unique}` : `${owner.pid}.${owner.start}-${unique}`;
}

/** The owner encoded in a name made by ownedName, or undefined for foreign names. */
export function parseOwner(name: string): ProcessIdentity | undefined {
  const match = OWNER_PREFIX.exec(name);
  if (!match) return undefined;
  return { pid: Number(match[1]), start: Number(match[2]) };
}

export function isAlive(owner: ProcessIdentity): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = processStat(owner.pid);
  // Without /proc we cannot detect pid reuse; trust the signal probe.
  if (stat === undefined) return !procAvailable();
  return owner.start === 0 || stat.start === owner.start;
}

function procAvailable(): boolean {
  return processStartTime(process.pid) !== undefined;
}
