import { access, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { LinuxResources } from '../oci/runtime-spec.js';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** Mount points and file-system types from /proc/self/mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (separator < 0 || fields.length < separator + 2) continue;
    entries.push({ mountPoint: fields[4]!.replace(/\\040/g, ' '), fsType: fields[separator + 1]! });
  }
  return entries;
}

export function cgroupModeOf(mounts: MountEntry[]): CgroupMode {
  const root = mounts.filter((m) => m.mountPoint === '/sys/fs/cgroup').at(-1);
  if (root?.fsType === 'cgroup2') return 'v2';
  const unified = mounts.filter((m) => m.mountPoint === '/sys/fs/cgroup/unified').at(-1);
  return unified?.fsType === 'cgroup2' ? 'hybrid' : 'v1';
}

export async function detectCgroupMode(): Promise<CgroupMode> {
  return cgroupModeOf(parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8')));
}

/**
 * crun refuses to start anything on hosts in hybrid v1/v2 mode (Ubuntu 20.04
 * and these machines) because /sys/fs/cgroup/unified lists a controller.
 * Only in ribo's own mount namespace (the host is not touched): root simply
 * unmounts it, and crun then manages v1 cgroups; an unprivileged user cannot
 * unmount what it inherited, so covers it with an empty tmpfs instead (crun
 * manages no cgroups for it anyway).
 */
export async function hideUnifiedHierarchy(rootless: boolean): Promise<boolean> {
  if ((await detectCgroupMode()) !== 'hybrid') return false;
  const result = rootless
    ? await execa('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'ribo-hide-unified', '/sys/fs/cgroup/unified'], { reject: false })
    : await execa('umount', ['/sys/fs/cgroup/unified'], { reject: false });
  return result.exitCode === 0;
}

export interface EnforcedResources {
  /** What the runtime is given; undefined when nothing can (or need) be enforced. */
  resources?: LinuxResources;
  /** One line for the user when limits were asked for and cannot be enforced. */
  warning?: string;
}

function limitFlags(resources: LinuxResources): string {
  const { memory, cpu } = resources;
  const flags = [
    memory?.limit !== undefined && '--memory', memory?.swap !== undefined && '--memory-swap', memory?.reservation !== undefined && '--memory-reservation',
    cpu?.quota !== undefined && '--cpus', cpu?.shares !== undefined && '--cpu-shares', cpu?.cpus !== undefined && '--cpuset-cpus',
    resources.pids && '--pids-limit',
  ].filter(Boolean);
  return flags.join(', ');
}

/**
 * Which of the asked-for limits the host lets ribo enforce. Root manages
 * cgroups itself (v1 hierarchies here, crun's or runc's cgroupfs manager).
 * Without root, ribo runs the runtime with cgroups disabled: the v1 and hybrid
 * hierarchies are never delegated to users, so the limits are dropped with a
 * warning rather than silently. Memory+swap is twice the memory limit, as
 * docker sets it, where the kernel accounts swap.
 */
export async function enforceableResources(requested: LinuxResources | undefined, host: { rootless: boolean; mode: CgroupMode }): Promise<EnforcedResources> {
  if (!requested) return {};
  if (host.rootless) {
    const why = host.mode === 'v2' ? 'ribo does not use cgroup v2 delegation yet' : `cgroup ${host.mode === 'hybrid' ? 'hybrid v1/v2' : 'v1'} hierarchies are never delegated to users`;
    return { warning: `ribo: warning: ${limitFlags(requested)} not enforced: rootless ribo runs containers without cgroups (${why}); run ribo as root to enforce them.` };
  }
  const resources = structuredClone(requested);
  // Unless --memory-swap said otherwise.
  if (resources.memory?.limit !== undefined && resources.memory.swap === undefined && (await swapAccounted(host.mode))) resources.memory.swap = resources.memory.limit * 2;
  if (resources.memory?.swap !== undefined && !(await swapAccounted(host.mode))) delete resources.memory.swap;
  return { resources };
}

async function swapAccounted(mode: CgroupMode): Promise<boolean> {
  if (mode === 'v2') return true;
  return access('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes').then(() => true, () => false);
}
