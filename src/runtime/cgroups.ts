import { readFile } from 'node:fs/promises';
import { execa } from 'execa';

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
