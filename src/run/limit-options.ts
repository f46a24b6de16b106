/** `ribo run`'s limits: --ulimit, --shm-size, --sysctl and the cgroup flags, with docker's spellings and meanings. */
import os from 'node:os';
import { UsageError } from '../errors.js';
import type { LinuxResources } from '../oci/runtime-spec.js';
import { RLIM_INFINITY, ULIMIT_NAMES, type Rlimit } from '../runtime/rlimits.js';
import { parseSize } from './mount-options.js';

/** One limit value: a whole number, or -1 / "unlimited". */
function limitValue(word: string, value: string): number {
  if (word === '-1' || word === 'unlimited') return RLIM_INFINITY;
  if (!/^\d+$/.test(word)) throw new UsageError(`--ulimit ${value}: "${word}" is not a whole number; give NAME=SOFT[:HARD] with numbers (-1 for unlimited), e.g. nofile=1024:4096.`);
  return Number(word);
}

/**
 * `--ulimit NAME=SOFT[:HARD]`, repeatable; a missing HARD is SOFT, and a
 * name given twice keeps its last value (docker's). Sorted by type, so the
 * same flags give the same config.
 */
export function parseUlimits(values: string[]): Rlimit[] {
  const byType = new Map<string, Rlimit>();
  for (const value of values) {
    const match = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(value);
    if (!match) throw new UsageError(`--ulimit ${value}: expected NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:4096.`);
    const type = ULIMIT_NAMES.get(match[1]!);
    if (!type) throw new UsageError(`--ulimit ${value}: unknown limit "${match[1]}"; use one of ${[...ULIMIT_NAMES.keys()].join(', ')}.`);
    const soft = limitValue(match[2]!, value);
    const hard = match[3] === undefined ? soft : limitValue(match[3], value);
    if (soft > hard) throw new UsageError(`--ulimit ${value}: the soft limit is above the hard one; give SOFT <= HARD.`);
    byType.set(type, { type, soft, hard });
  }
  return [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
}

/** docker's /dev/shm size when --shm-size is absent or 0. */
export const DEFAULT_SHM_BYTES = 64 * 1024 * 1024;

/** `--shm-size SIZE`: bytes, or a number with b, k, m or g; 0 means docker's default, 64m. */
export function parseShmSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(value, '--shm-size');
  return bytes === 0 ? undefined : bytes;
}

/** The sysctls docker lets a container set: those of the namespaces it has of its own (IPC, and the network unless it is the host's). */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/**
 * `--sysctl NAME=VALUE`, repeatable: IPC sysctls and fs.mqueue.* always, net.*
 * only on a network namespace of the container's own, as docker allows them.
 */
export function parseSysctls(values: string[], sharesHostNetwork: boolean): Record<string, string> {
  const sysctls: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const name = value.slice(0, eq).trim();
    if (eq <= 0 || !/^[a-z0-9_.\/-]+$/.test(name)) throw new UsageError(`--sysctl ${value}: expected NAME=VALUE, e.g. --sysctl net.core.somaxconn=1024.`);
    const key = name.replace(/\//g, '.');
    const namespaced = IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.') || key.startsWith('net.');
    if (!namespaced) throw new UsageError(`--sysctl ${value}: ${key} is not namespaced, so a container cannot set it (only kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* and net.*, as with docker).`);
    if (key.startsWith('net.') && sharesHostNetwork) throw new UsageError(`--sysctl ${value}: net.* sysctls cannot be set with the host's network (--network host or container:NAME); they would change the host's or the other container's.`);
    sysctls[key] = value.slice(eq + 1);
  }
  return sysctls;
}

/** The cgroup flags of `ribo run`, as the CLI collected them. */
export interface ResourceFlags {
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
}

/** --memory, --memory-swap and --memory-reservation, with docker's rules between them. */
function memoryResources(flags: ResourceFlags): LinuxResources['memory'] {
  const memory: NonNullable<LinuxResources['memory']> = {};
  if (flags.memory !== undefined) {
    memory.limit = parseSize(flags.memory, '--memory');
    if (memory.limit < 6 * 1024 * 1024) throw new UsageError(`--memory ${flags.memory}: the minimum is 6m, as with docker.`);
  }
  if (flags.memorySwap !== undefined) {
    if (memory.limit === undefined) throw new UsageError(`--memory-swap ${flags.memorySwap}: it is memory and swap together, so it needs --memory too, as with docker.`);
    // -1: swap without limit.
    memory.swap = flags.memorySwap === '-1' ? -1 : parseSize(flags.memorySwap, '--memory-swap');
    if (memory.swap !== -1 && memory.swap < memory.limit) throw new UsageError(`--memory-swap ${flags.memorySwap}: it is memory and swap together, so it cannot be below --memory ${flags.memory}.`);
  }
  if (flags.memoryReservation !== undefined) {
    memory.reservation = parseSize(flags.memoryReservation, '--memory-reservation');
    if (memory.limit !== undefined && memory.reservation > memory.limit) throw new UsageError(`--memory-reservation ${flags.memoryReservation}: a soft limit above --memory ${flags.memory} would never apply; give a smaller one.`);
  }
  return Object.keys(memory).length > 0 ? memory : undefined;
}

/** --cpus, --cpu-shares and --cpuset-cpus. */
function cpuResources(flags: ResourceFlags): LinuxResources['cpu'] {
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  const count = os.availableParallelism();
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    if (!Number.isFinite(cpus) || cpus < 0.01 || cpus > count) throw new UsageError(`--cpus ${flags.cpus}: give a number of CPUs from 0.01 to ${count} (this machine's count), e.g. --cpus 1.5.`);
    cpu.period = 100_000;
    cpu.quota = Math.round(cpus * cpu.period);
  }
  if (flags.cpuShares !== undefined) {
    const shares = Number(flags.cpuShares);
    if (!Number.isInteger(shares) || shares < 0 || shares > 262_144) throw new UsageError(`--cpu-shares ${flags.cpuShares}: give a relative weight from 2 to 262144 (1024 is the default; 0 leaves it), e.g. --cpu-shares 512.`);
    if (shares > 0) cpu.shares = Math.max(shares, 2);
  }
  if (flags.cpusetCpus !== undefined) {
    const ranges = flags.cpusetCpus.split(',').map((part) => /^(\d+)(?:-(\d+))?$/.exec(part.trim()));
    const listed = ranges.flatMap((m) => (m ? [Number(m[1]), Number(m[2] ?? m[1])] : [Number.NaN]));
    if (listed.some((n) => Number.isNaN(n)) || ranges.some((m) => Number(m![2] ?? m![1]) < Number(m![1]))) throw new UsageError(`--cpuset-cpus ${flags.cpusetCpus}: give CPU numbers and ranges, e.g. 0-1 or 0,2.`);
    if (Math.max(...listed) >= count) throw new UsageError(`--cpuset-cpus ${flags.cpusetCpus}: this machine has CPUs 0-${count - 1} only.`);
    cpu.cpus = flags.cpusetCpus.replace(/\s/g, '');
  }
  return Object.keys(cpu).length > 0 ? cpu : undefined;
}

/** The cgroup limits asked for; whether the host can enforce them is decided later (runtime/cgroups.ts). */
export function parseResources(flags: ResourceFlags): LinuxResources | undefined {
  const resources: LinuxResources = {};
  const memory = memoryResources(flags);
  if (memory) resources.memory = memory;
  const cpu = cpuResources(flags);
  if (cpu) resources.cpu = cpu;
  if (flags.pidsLimit !== undefined) {
    const limit = Number(flags.pidsLimit);
    if (!Number.isInteger(limit)) throw new UsageError(`--pids-limit ${flags.pidsLimit}: give a whole number of processes (0 or -1 for no limit).`);
    if (limit > 0) resources.pids = { limit };
  }
  return Object.keys(resources).length > 0 ? resources : undefined;
}
