import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import { RiboError } from '../errors.js';

/** ribo's own allowlist, used when podman's profile is not installed; see bundles/README.md. */
export const RIBO_SECCOMP_PROFILE = new URL('../../../bundles/seccomp.json', import.meta.url);

/**
 * Where podman (containers/common) looks for its default profile, in order: the
 * admin's override, then the one golang-github-containers-common installs.
 */
export const SYSTEM_SECCOMP_PROFILES = ['/etc/containers/seccomp.json', '/usr/share/containers/seccomp.json'];

export class SeccompProfileError extends RiboError {}

interface Condition {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

interface ProfileRule {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
  includes?: Condition;
  excludes?: Condition;
}

/**
 * A seccomp profile as Docker and Podman write them (also accepted: the plain
 * runtime-spec form, which lacks archMap/includes/excludes).
 */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  syscalls?: ProfileRule[];
}

/** The runtime-spec's linux.seccomp. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: Array<{ names: string[]; action: string; errnoRet?: number; args?: ProfileRule['args'] }>;
}

/** What the conditions of a profile's rules are evaluated against. */
export interface SeccompHost {
  /** Node's process.arch. */
  arch: string;
  /** Kernel release, e.g. "6.1.0-13-amd64". */
  kernel: string;
  /** The container's bounding capabilities (CAP_ names). */
  capabilities: string[];
}

const SECCOMP_ARCH: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64', ia32: 'SCMP_ARCH_X86', arm: 'SCMP_ARCH_ARM', s390x: 'SCMP_ARCH_S390X', ppc64: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64' };
/** Architecture names as profiles' "includes.arches" write them (libseccomp's names of the native arch, as containers/common compares them). */
const PROFILE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: 'x86', arm: 'arm', s390x: 's390x', ppc64: os.endianness() === 'LE' ? 'ppc64le' : 'ppc64', riscv64: 'riscv64', mips64el: 'mipsel64' };
const profileArch = (host: SeccompHost) => PROFILE_ARCH[host.arch] ?? host.arch;

function kernelAtLeast(release: string, min: string): boolean {
  const have = release.split(/[.-]/).map((n) => Number.parseInt(n, 10));
  const want = min.split('.').map((n) => Number.parseInt(n, 10));
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0;
    if (Number.isNaN(h) || h !== want[i]) return !Number.isNaN(h) && h > want[i]!;
  }
  return true;
}

function matches(condition: Condition, host: SeccompHost): boolean {
  if (condition.caps?.length && !condition.caps.every((c) => host.capabilities.includes(c))) return false;
  if (condition.arches?.length && !condition.arches.includes(profileArch(host))) return false;
  if (condition.minKernel && !kernelAtLeast(host.kernel, condition.minKernel)) return false;
  return true;
}

/** Excludes apply when any of their conditions holds. */
function excluded(condition: Condition | undefined, host: SeccompHost): boolean {
  if (!condition) return false;
  if (condition.caps?.some((c) => host.capabilities.includes(c))) return true;
  if (condition.arches?.includes(profileArch(host))) return true;
  if (condition.minKernel && kernelAtLeast(host.kernel, condition.minKernel)) return true;
  return false;
}

/**
 * Turns a profile into the runtime-spec form for one container, as podman
 * (containers/common's pkg/seccomp) does: `architectures` as written, or from
 * `archMap` the host's architecture and its sub-architectures (none when the
 * map lacks the host's: the runtime then filters the native one); only the
 * rules whose `includes` all hold and none of whose `excludes` holds, for this
 * container's bounding capabilities, the host's architecture and kernel.
 */
export function resolveSeccomp(profile: SeccompProfile, host: SeccompHost): LinuxSeccomp {
  const main = SECCOMP_ARCH[host.arch];
  let architectures = profile.architectures ?? [];
  const mapped = profile.archMap?.find((a) => a.architecture === main);
  if (mapped) architectures = [mapped.architecture, ...(mapped.subArchitectures ?? [])];
  const syscalls: LinuxSeccomp['syscalls'] = [];
  for (const rule of profile.syscalls ?? []) {
    if (rule.includes && !matches(rule.includes, host)) continue;
    if (excluded(rule.excludes, host)) continue;
    const names = rule.names?.length ? rule.names : (rule.name ? [rule.name] : []);
    if (names.length === 0) continue;
    syscalls.push({ names, action: rule.action, ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}), ...(rule.args?.length ? { args: rule.args } : {}) });
  }
  return { defaultAction: profile.defaultAction, ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}), architectures, syscalls };
}

/** Reads and checks a profile file (ribo's default, or one given with --security-opt seccomp=FILE). */
export async function loadSeccompProfile(file: string | URL): Promise<SeccompProfile> {
  const name = file instanceof URL ? file.pathname : file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SeccompProfileError(`Cannot read the seccomp profile ${name}: ${(error as Error).message}. Give the path of a JSON profile with --security-opt seccomp=FILE.`);
  }
  let profile: SeccompProfile;
  try {
    profile = JSON.parse(text) as SeccompProfile;
  } catch (error) {
    throw new SeccompProfileError(`The seccomp profile ${name} is not valid JSON (${(error as Error).message}); it must be a Docker-style profile with defaultAction and syscalls.`);
  }
  if (typeof profile?.defaultAction !== 'string' || !profile.defaultAction.startsWith('SCMP_ACT_')) {
    throw new SeccompProfileError(`The seccomp profile ${name} has no defaultAction (such as "SCMP_ACT_ERRNO" or "SCMP_ACT_ALLOW"); it must be a Docker-style profile with defaultAction and syscalls.`);
  }
  if (profile.syscalls !== undefined && !Array.isArray(profile.syscalls)) {
    throw new SeccompProfileError(`The seccomp profile ${name}: "syscalls" must be a list of rules with names and action.`);
  }
  // The two mistakes containers/common refuses, refused the same way.
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new SeccompProfileError(`The seccomp profile ${name} has both "architectures" and "archMap"; keep one of them.`);
  }
  const both = (profile.syscalls ?? []).findIndex((r) => r?.name && r.names?.length);
  if (both >= 0) throw new SeccompProfileError(`The seccomp profile ${name}: rule ${both + 1} of "syscalls" has both "name" and "names"; keep one of them.`);
  return profile;
}

/**
 * The profile a container gets unless --security-opt says otherwise: podman's
 * when it is installed (the first of `candidates` that exists), else ribo's own
 * allowlist, which a unit test keeps in step with podman's.
 */
export async function defaultSeccompProfilePath(candidates: readonly string[] = SYSTEM_SECCOMP_PROFILES): Promise<string | URL> {
  for (const file of candidates) {
    if (await access(file).then(() => true, () => false)) return file;
  }
  return RIBO_SECCOMP_PROFILE;
}

export function seccompHost(capabilities: string[]): SeccompHost {
  return { arch: process.arch, kernel: os.release(), capabilities };
}
