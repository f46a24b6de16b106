/**
 * What every start of a container writes into its bundle, whichever process
 * starts it (supervise.ts for foreground runs and ribo's own monitor,
 * conmon-monitor.ts for conmon): the spec from the record's plan, and the
 * work on its mounted root before the runtime runs (--userns keep-id
 * entries, the user resolved in its /etc/passwd, volume mount points).
 */
import path from 'node:path';
import type { ContainerSpec } from '../runtime/bundle.js';
import { addCallerEntries, letContainerRootReach } from '../runtime/keep-id.js';
import { processGroups, resolveGroups, resolveUser, withAddedGroups } from '../runtime/users.js';
import { shortId, type ContainerRecord, type ContainerStore } from './containers.js';
import { prepareMountsAtStart } from './volumes.js';
import { repickTakenPorts } from './publish.js';
import { UsageError } from '../errors.js';

/** --network container:NAME: the other container's network namespace (it must be running now), its /etc files and host name. */
async function sharedNetwork(containers: ContainerStore, id: string): Promise<Partial<ContainerSpec>> {
  const other = await containers.read(id).catch(() => undefined);
  const pid = other?.status === 'running' ? other.pid?.pid : undefined;
  if (!pid) throw new UsageError(`--network container:${other?.name ?? id}: that container is not running; start it first.`);
  return { joinNetns: `/proc/${pid}/ns/net`, shareEtcFrom: path.join(containers.dirOf(id), 'bundle'), hostname: other!.plan.spec.hostname ?? shortId(other!.id) };
}

/** The bundle spec of `record` (the user is filled in by `prepareRootAtStart`). */
export function startSpec(record: ContainerRecord): Omit<ContainerSpec, 'rootfs'> {
  return { hostname: shortId(record.id), ...record.plan.spec, uid: 0, gid: 0 };
}

/**
 * The process's environment as docker gives it: HOSTNAME (the container's
 * host name) before the image's and -e's variables, and HOME (from the
 * image's /etc/passwd, else /) after them, each unless they set it already.
 * HOME is set here rather than left to the OCI runtime: crun leaves it unset
 * for a uid the image's passwd does not list, where docker sets /.
 */
export function startEnv(env: string[], hostname: string, home: string | undefined): string[] {
  const has = (name: string) => env.some((entry) => entry.startsWith(`${name}=`));
  return [...(has('HOSTNAME') ? [] : [`HOSTNAME=${hostname}`]), ...env, ...(has('HOME') ? [] : [`HOME=${home || '/'}`])];
}

/** The `prepare` step of runtime/container.ts for `record`. */
export function prepareRootAtStart(containers: ContainerStore, record: ContainerRecord): (rootfs: string) => Promise<Partial<ContainerSpec>> {
  return async (rootfs) => {
    if (record.plan.spec.keepId) {
      await addCallerEntries(rootfs, record.plan.spec.keepId);
      const bindSources = (record.plan.spec.mounts ?? []).filter((m) => m.type === 'bind' && m.source).map((m) => m.source!);
      await letContainerRootReach([rootfs, ...bindSources]);
    }
    const user = await resolveUser(rootfs, record.plan.user);
    await prepareMountsAtStart(path.dirname(containers.dir), rootfs, record.plan, user);
    const shared = record.plan.networkContainer ? await sharedNetwork(containers, record.plan.networkContainer) : {};
    const ports = await repickTakenPorts(record.plan.spec.ports ?? []);
    // The record names the ports in use (ribo port, ps, inspect).
    if (ports) await containers.update(record.id, { plan: { ...record.plan, spec: { ...record.plan.spec, ports } } });
    const hostname = shared.hostname ?? startSpec(record).hostname!;
    const additionalGids = withAddedGroups(processGroups(user), await resolveGroups(rootfs, record.plan.groupAdd ?? []));
    return { uid: user.uid, gid: user.gid, additionalGids, env: startEnv(record.plan.spec.env, hostname, user.home), ...shared, ...(ports ? { ports } : {}) };
  };
}
