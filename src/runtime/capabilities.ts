import { RiboError } from '../errors.js';

/** Linux capabilities by number (capability.h); the index is the capability's number. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

/**
 * What `ribo run` gives a container: podman's default set (containers.conf's
 * default_capabilities), i.e. docker's without CAP_MKNOD, CAP_NET_RAW and
 * CAP_AUDIT_WRITE. A unit test compares it with /usr/share/containers/containers.conf.
 */
export const RUN_DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
] as const;

/**
 * What a build step (RUN) gets: BuildKit's set, which is docker's default (the
 * run set plus CAP_MKNOD, CAP_NET_RAW and CAP_AUDIT_WRITE), so that Dockerfiles
 * written for `docker build` (mknod in a RUN, ping in a check) behave the same.
 */
export const BUILD_DEFAULT_CAPABILITIES = [...RUN_DEFAULT_CAPABILITIES, 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_AUDIT_WRITE'] as const;

export class CapabilityError extends RiboError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}

/**
 * A --cap-add/--cap-drop value as the runtime spells it: case-insensitive,
 * with or without the CAP_ prefix; "ALL" stays "ALL".
 */
export function normalizeCapability(name: string, flag: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(ALL_CAPABILITIES as readonly string[]).includes(full)) {
    throw new CapabilityError(`${flag} ${name}: unknown capability. Use a name from capabilities(7) such as NET_ADMIN or CAP_SYS_PTRACE, or ALL.`);
  }
  return full;
}

/**
 * Docker's rules for the capability set: --cap-add ALL starts from every
 * capability, --cap-drop ALL from none (then only what --cap-add names), else
 * the defaults plus the added minus the dropped. `known` limits ALL to the
 * capabilities the running kernel has.
 */
export function capabilitySet(defaults: readonly string[], add: readonly string[], drop: readonly string[], known: readonly string[] = ALL_CAPABILITIES): string[] {
  let set: string[];
  if (add.includes('ALL')) set = known.filter((c) => !drop.includes(c));
  else if (drop.includes('ALL')) set = [...add];
  else set = [...defaults.filter((c) => !drop.includes(c)), ...add.filter((c) => !defaults.includes(c))];
  return [...new Set(set)];
}

/** The capabilities the running kernel knows (from /proc/sys/kernel/cap_last_cap's number). */
export function knownCapabilities(capLastCap: number): string[] {
  return ALL_CAPABILITIES.slice(0, Math.min(capLastCap, ALL_CAPABILITIES.length - 1) + 1);
}
