/** `ribo run --device HOST[:CONTAINER][:PERMISSIONS]`, as docker's. */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { splitDevice } from '../files/device-numbers.js';
import type { ContainerDevice } from '../runtime/bundle.js';
import type { PathContext } from './mount-options.js';

/** A host device node for the container, and what the device cgroup lets it do (docker's r, w, m). */
export type DeviceRequest = ContainerDevice;

const PERMISSIONS = /^[rwm]{1,3}$/;

/** The parts of a --device value: docker reads HOST:PERMISSIONS when the second part is only r, w and m. */
function deviceParts(value: string): { host: string; container?: string; access: string } {
  const parts = value.split(':');
  if (parts.length === 1) return { host: parts[0]!, access: 'rwm' };
  if (parts.length === 2) return PERMISSIONS.test(parts[1]!) ? { host: parts[0]!, access: parts[1]! } : { host: parts[0]!, container: parts[1]!, access: 'rwm' };
  if (parts.length === 3 && PERMISSIONS.test(parts[2]!)) return { host: parts[0]!, container: parts[1]!, access: parts[2]! };
  throw new UsageError(`--device ${value}: expected HOST[:CONTAINER][:PERMISSIONS], e.g. --device /dev/fuse or --device /dev/sdb:/dev/xvdb:r (PERMISSIONS: r, w and m).`);
}

/** One --device: the host node (symlinks followed, as docker does) at the same or the given path in the container. */
export async function parseDevice(value: string, ctx: PathContext): Promise<DeviceRequest> {
  const { host, container, access } = deviceParts(value);
  const target = container ?? host;
  if (!path.isAbsolute(host) || !path.isAbsolute(target)) throw new UsageError(`--device ${value}: the paths must be absolute, e.g. /dev/fuse.`);
  const resolved = await realpath(path.resolve(ctx.cwd, host)).catch(() => undefined);
  const stats = resolved ? await stat(resolved).catch(() => undefined) : undefined;
  if (!stats) throw new UsageError(`--device ${value}: ${host} does not exist on this machine; give a device node such as /dev/fuse.`);
  if (!stats.isCharacterDevice() && !stats.isBlockDevice()) {
    throw new UsageError(`--device ${value}: ${host} is not a device node${stats.isDirectory() ? ' (a directory of devices is not supported; give each device)' : ''}; give one such as /dev/fuse, or bind a file with -v.`);
  }
  const { major, minor } = splitDevice(stats.rdev);
  return { hostPath: resolved!, path: path.posix.normalize(target), type: stats.isCharacterDevice() ? 'c' : 'b', major, minor, access };
}
