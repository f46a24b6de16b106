import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { IdMapping, LinuxResources, Mount, RuntimeSpec } from '../oci/runtime-spec.js';

/** The template every bundle starts from; see bundles/README.md. */
export const DEFAULT_TEMPLATE = new URL('../../../bundles/config.json', import.meta.url);

export interface ContainerSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: number[];
  /** Absolute path of the mounted root file system. */
  rootfs: string;
  hostname?: string;
  terminal?: boolean;
  readonlyRootfs?: boolean;
  /** 'host' shares the host's network (what RUN needs for apt-get); 'none' gives only lo. */
  network: 'host' | 'none';
  /** Ids usable in ribo's namespace; the container's user namespace maps them one to one. */
  idCount: number;
  mounts?: Mount[];
  resources?: LinuxResources;
}

/**
 * The container's user namespace maps ids one to one. Root is mapped on its own:
 * some kernels refuse one extent that maps 0 together with other ids into a
 * nested user namespace, and accept the same ids split in two.
 */
export function identityMappings(idCount: number): IdMapping[] {
  const size = Math.min(idCount, 2 ** 32 - 1);
  return size <= 1 ? [{ containerID: 0, hostID: 0, size: 1 }] : [
    { containerID: 0, hostID: 0, size: 1 },
    { containerID: 1, hostID: 1, size: size - 1 },
  ];
}

/** Fills the template with one container's process, root, mappings and mounts. */
export function specFromTemplate(template: RuntimeSpec, spec: ContainerSpec): RuntimeSpec {
  const config: RuntimeSpec = structuredClone(template);
  config.process = {
    ...config.process!,
    terminal: spec.terminal ?? false,
    user: { uid: spec.uid, gid: spec.gid, ...(spec.additionalGids?.length ? { additionalGids: spec.additionalGids } : {}) },
    args: spec.args,
    env: spec.env,
    cwd: spec.cwd,
  };
  config.root = { path: spec.rootfs, readonly: spec.readonlyRootfs ?? false };
  config.hostname = spec.hostname ?? config.hostname;
  config.mounts = [...(config.mounts ?? []), ...(spec.mounts ?? [])];
  const linux = config.linux ?? {};
  linux.uidMappings = identityMappings(spec.idCount);
  linux.gidMappings = identityMappings(spec.idCount);
  const namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network');
  if (spec.network === 'none') namespaces.push({ type: 'network' });
  linux.namespaces = namespaces;
  if (spec.resources) linux.resources = spec.resources;
  config.linux = linux;
  return config;
}

/** Writes `dir`/config.json for `spec`; the rootfs stays where it is mounted. */
export async function writeBundle(dir: string, spec: ContainerSpec, templateUrl: URL = DEFAULT_TEMPLATE): Promise<RuntimeSpec> {
  const template = JSON.parse(await readFile(templateUrl, 'utf8')) as RuntimeSpec;
  const config = specFromTemplate(template, spec);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return config;
}
