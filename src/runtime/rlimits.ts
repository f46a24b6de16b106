/**
 * Resource limits (setrlimit) for a container's process: the OCI names, the
 * limits ribo itself runs under, and the config's JSON, where "unlimited" is
 * the uint64 RLIM_INFINITY, a number JavaScript cannot hold exactly.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

/**
 * "Unlimited" in a config: 2^64, the double nearest to RLIM_INFINITY
 * (2^64 - 1). runtimeConfigJson writes it as RLIM_INFINITY itself, and a
 * config read back with JSON.parse gives this same value again.
 */
export const RLIM_INFINITY = 2 ** 64;

/** One process limit, as the config's process.rlimits holds it. */
export interface Rlimit {
  /** RLIMIT_NOFILE and the like. */
  type: string;
  soft: number;
  hard: number;
}

/**
 * The limits, in the kernel's order (the order of /proc/PID/limits's lines).
 * RLIMIT_AS is left out of the names users give, as docker leaves it out.
 */
const KERNEL_ORDER = ['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS', 'SIGPENDING', 'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME'];

/** The names --ulimit takes (docker's), each with its RLIMIT_ type. */
export const ULIMIT_NAMES: ReadonlyMap<string, string> = new Map(KERNEL_ORDER.filter((name) => name !== 'AS').map((name) => [name.toLowerCase(), `RLIMIT_${name}`]));

/** The soft and hard limits in /proc/PID/limits text, by RLIMIT_ type; "unlimited" is RLIM_INFINITY. */
export function parseProcLimits(text: string): Map<string, { soft: number; hard: number }> {
  const limits = new Map<string, { soft: number; hard: number }>();
  const lines = text.split('\n').filter((line) => line.startsWith('Max '));
  lines.forEach((line, index) => {
    const name = KERNEL_ORDER[index];
    // "Max open files            1024                 4096                 files": the first two values after the name.
    const words = line.split(/\s+/);
    const first = words.findIndex((word) => /^(\d+|unlimited)$/.test(word));
    if (!name || first < 0 || words[first + 1] === undefined) return;
    const value = (word: string) => (word === 'unlimited' ? RLIM_INFINITY : Number(word));
    limits.set(`RLIMIT_${name}`, { soft: value(words[first]!), hard: value(words[first + 1]!) });
  });
  return limits;
}

/**
 * Refuses limits a rootless container cannot be given: no process may raise
 * its hard limit without CAP_SYS_RESOURCE in the host's user namespace, so
 * the runtime would fail on them with a bare "operation not permitted".
 */
export async function checkRlimitsAllowed(rlimits: Rlimit[], rootless: boolean, limitsText?: string): Promise<void> {
  if (!rootless || rlimits.length === 0) return;
  const own = parseProcLimits(limitsText ?? (await readFile('/proc/self/limits', 'utf8')));
  for (const limit of rlimits) {
    const allowed = own.get(limit.type)?.hard;
    if (allowed === undefined || limit.hard <= allowed) continue;
    const flagName = limit.type.slice('RLIMIT_'.length).toLowerCase();
    const shown = (n: number) => (n >= RLIM_INFINITY ? 'unlimited' : String(n));
    throw new UsageError(`--ulimit ${flagName}: a rootless container cannot get a hard limit of ${shown(limit.hard)}, above the ${shown(allowed)} ribo runs with; give at most ${flagName}=${shown(Math.min(limit.soft, allowed))}:${shown(allowed)}, or raise your own limit first (e.g. in /etc/security/limits.conf).`);
  }
}

/** A runtime config (or process.json) as JSON, with unlimited rlimits written exactly. */
export function runtimeConfigJson(config: unknown, indent?: number): string {
  return JSON.stringify(config, null, indent).replace(/("(?:soft|hard)":\s*)18446744073709552000(?=[,\s}])/g, '$118446744073709551615');
}
