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
 * Covering that directory with an empty tmpfs, only in ribo's own mount
 * namespace, makes crun use the v1 hierarchies; the host is not touched.
 */
export async function hideUnifiedHierarchy(): Promise<boolean> {
  if ((await detectCgroupMode()) !== 'hybrid') return false;
  const result = await execa('mount', ['-t', 'tmpfs', '-o', 'size=4k,mode=0555', 'ribo-hide-unified', '/sys/fs/cgroup/unified'], { reject: false });
  return result.exitCode === 0;
}
