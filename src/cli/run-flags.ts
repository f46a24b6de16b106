/** What `ribo run` and `ribo create` share: docker run's options, their flags for parseRunFlags, and all they do before the container is made. */
import { isatty } from 'node:tty';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { UsageError } from '../errors.js';
import type { RestartPolicy } from '../run/containers.js';
import { parseRestartPolicy } from '../run/restart-policy.js';
import type { RunImageOptions } from '../run/run-image.js';
import { parseRunFlags, type RunFlags } from '../run/run-options.js';
import { enforceableResources } from '../runtime/cgroups.js';
import { checkRlimitsAllowed } from '../runtime/rlimits.js';
import { orphanCleanupCommand, conmonCleanupCommand } from './commands/container-monitor.js';
import { insideNamespace, reexecInUserNamespaceOf } from '../runtime/namespace.js';
import { onePlatform } from './build-flags.js';
import { asPullPolicy, ensureImage } from './image-pull.js';
import { joinsOtherNamespace, withNamespaceOwner } from './network-namespace.js';
import { asList } from './options.js';
import { withRegistryOptions } from './registry-options.js';
import { openSession, storeRoot, type GlobalOptions, type Session } from './session.js';

/** docker run's options that ribo has (all but -d, which only run takes). */
export function withContainerOptions(y: Argv): Argv {
  return withRegistryOptions(y)
    .option('rm', { type: 'boolean', default: false, describe: 'Remove the container when it exits' })
    .option('name', { type: 'string', describe: 'Name the container (unique in the store)' })
    .option('env', { array: true, alias: 'e', type: 'string', describe: 'Set an environment variable (NAME=VALUE, or NAME to copy it)' })
    .option('env-file', { array: true, type: 'string', describe: 'Read environment variables from a file of NAME=VALUE lines' })
    .option('volume', { array: true, alias: 'v', type: 'string', describe: 'Bind a host path or mount a volume: HOST:CONTAINER, NAME:CONTAINER or CONTAINER, then [:ro|rw|U|nocopy]' })
    .option('mount', { array: true, type: 'string', describe: 'type=bind,source=,target=[,readonly], type=volume[,source=NAME],target= or type=tmpfs,target=[,tmpfs-size=]' })
    .option('userns', { type: 'string', describe: 'keep-id: your own uid and gid inside the container (as podman)' })
    .option('image-volume', { type: 'string', describe: 'bind (an anonymous volume for each VOLUME of the image, the default) or ignore' })
    .option('tmpfs', { array: true, type: 'string', describe: 'Mount a tmpfs: PATH[:OPTIONS] (e.g. /tmp:size=64m)' })
    .option('publish', { array: true, alias: 'p', type: 'string', describe: 'Publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], ranges too' })
    .option('publish-all', { alias: 'P', type: 'boolean', default: false, describe: 'Publish every EXPOSEd port on a free host port' })
    .option('dns', { array: true, type: 'string', describe: 'Name server for /etc/resolv.conf' })
    .option('add-host', { array: true, type: 'string', describe: 'Add NAME:IP (or NAME:host-gateway) to /etc/hosts' })
    .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory inside the container' })
    .option('user', { alias: 'u', type: 'string', describe: 'USER[:GROUP] to run as (names from the image)' })
    .option('entrypoint', { type: 'string', describe: 'Replace the image\'s ENTRYPOINT ("" clears it)' })
    .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'Keep stdin attached' })
    .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'Give the container a terminal' })
    .option('hostname', { type: 'string', describe: 'Container host name' })
    .option('read-only', { type: 'boolean', default: false, describe: 'Mount the root file system read-only' })
    .option('network', { type: 'string', default: 'bridge', describe: 'bridge (own namespace, out through slirp4netns, or pasta for UDP ports), host, none, private (only lo), pasta, slirp4netns, container:NAME, or a network made with ribo network create' })
    .option('network-alias', { array: true, type: 'string', describe: 'Another name the container has on its network (--network NAME)' })
    .option('memory', { alias: 'm', type: 'string', describe: 'Memory limit, e.g. 512m' })
    .option('memory-swap', { type: 'string', describe: 'Memory and swap together, e.g. 1g (-1: swap without limit); needs --memory' })
    .option('memory-reservation', { type: 'string', describe: 'Soft memory limit, e.g. 256m' })
    .option('cpus', { type: 'string', describe: 'CPU limit, e.g. 1.5' })
    .option('cpu-shares', { alias: 'c', type: 'string', describe: 'Relative CPU weight (default 1024)' })
    .option('cpuset-cpus', { type: 'string', describe: 'CPUs the container may use, e.g. 0-1 or 0,2' })
    .option('pids-limit', { type: 'string', describe: 'Maximum number of processes' })
    .option('cap-add', { array: true, type: 'string', describe: 'Add a capability (or ALL)' })
    .option('cap-drop', { array: true, type: 'string', describe: 'Drop a capability (or ALL)' })
    .option('security-opt', { array: true, type: 'string', describe: 'no-new-privileges, seccomp=unconfined or seccomp=FILE' })
    .option('ulimit', { array: true, type: 'string', describe: 'A process limit NAME=SOFT[:HARD] (nofile, nproc, core, stack, ...; -1: unlimited)' })
    .option('shm-size', { type: 'string', describe: 'Size of /dev/shm, e.g. 256m (default 64m)' })
    .option('group-add', { array: true, type: 'string', describe: 'Another group (name in the image or gid) for the container\'s processes' })
    .option('device', { array: true, type: 'string', describe: 'Give the container a host device: HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/fuse' })
    .option('sysctl', { array: true, type: 'string', describe: 'A namespaced kernel setting NAME=VALUE (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)' })
    .option('expose', { array: true, type: 'string', describe: 'Expose a port or range (PORT[-LAST][/tcp|udp]) beyond the image\'s; -P publishes it' })
    .option('label-file', { array: true, type: 'string', describe: 'Read labels from a file of KEY=VALUE lines' })
    .option('cidfile', { type: 'string', describe: 'Write the container id to this file (which must not exist)' })
    .option('label', { alias: 'l', array: true, type: 'string', describe: 'Set a label KEY=VALUE on the container (ps --filter label=)' })
    .option('stop-signal', { type: 'string', describe: 'Signal ribo stop sends first (default: the image\'s STOPSIGNAL, else SIGTERM)' })
    .option('stop-timeout', { type: 'string', describe: 'Seconds ribo stop waits before SIGKILL (default 10)' })
    .option('init', { type: 'boolean', default: false, describe: 'Run tini as PID 1 to reap zombies and forward signals' })
    .option('privileged', { type: 'boolean', default: false, hidden: true })
    .option('restart', { type: 'string', describe: 'With -d: no, on-failure[:MAX-RETRIES], always or unless-stopped (while ribo\'s monitor lives; no reboot survival)' })
    .option('pull', { type: 'string', default: 'missing', describe: 'missing (pull the image when it is not in the store), always or never' })
    .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT]: run the image\'s manifest for this platform (emulated with QEMU when foreign); default this machine\'s' });
}

/** run's and create's flags by how parseRunFlags takes them: lists (repeatable), switches and single values. */
const LIST_FLAGS = ['env', 'envFile', 'volume', 'mount', 'tmpfs', 'publish', 'networkAlias', 'dns', 'addHost', 'capAdd', 'capDrop', 'securityOpt', 'ulimit', 'groupAdd', 'label', 'device', 'expose', 'labelFile', 'sysctl'] as const satisfies ReadonlyArray<keyof RunFlags>;
const SWITCH_FLAGS = ['interactive', 'tty', 'readOnly', 'publishAll', 'init', 'privileged'] as const satisfies ReadonlyArray<keyof RunFlags>;
const VALUE_FLAGS = ['workdir', 'user', 'entrypoint', 'hostname', 'memory', 'cpus', 'memorySwap', 'memoryReservation', 'cpuShares', 'cpusetCpus', 'pidsLimit', 'userns', 'imageVolume', 'shmSize', 'cidfile', 'stopSignal', 'stopTimeout'] as const satisfies ReadonlyArray<keyof RunFlags>;

/** The flags of a run or create command line, as parseRunFlags takes them. */
export function runFlagsOf(argv: ArgumentsCamelCase<Record<string, unknown>>): RunFlags {
  const flags: Record<string, unknown> = { network: argv.network as string };
  for (const key of LIST_FLAGS) flags[key] = asList(argv[key]);
  for (const key of SWITCH_FLAGS) flags[key] = Boolean(argv[key]);
  for (const key of VALUE_FLAGS) flags[key] = argv[key] === undefined ? undefined : String(argv[key]);
  return flags as RunFlags;
}

/** --restart's policy; refused with --rm and without -d, as there is no daemon to restart a foreground run. */
export function runRestartPolicy(value: unknown, detach: boolean, remove: boolean): RestartPolicy | undefined {
  if (value === undefined) return undefined;
  const policy = parseRestartPolicy(String(value));
  if (policy.name === 'no') return undefined;
  if (remove) throw new UsageError(`--restart ${String(value)} and --rm conflict: a container removed when it exits cannot be restarted. Leave one out.`);
  if (!detach) throw new UsageError(`--restart ${String(value)} needs -d: ribo has no daemon, so only a detached container's monitor can restart it. Add -d.`);
  return policy;
}

/**
 * What `run` and `create` do before they make the container: the flags
 * checked (before anything else is done), a run on a network between
 * containers moved into that network's user namespace, the image pulled as
 * --pull says, and the limits checked against what this session can enforce
 * (a warning for the rest); then `make` makes (and maybe runs) the container.
 * `background`: it starts later or detached, so a terminal (-t) is conmon's
 * (or `start -a`'s), and a --restart policy may apply.
 */
export async function withContainerToMake(
  argv: ArgumentsCamelCase<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
  background: boolean,
  make: (options: RunImageOptions, session: Session) => Promise<number>,
): Promise<number> {
  const pullPolicy = asPullPolicy(argv.pull);
  const platform = argv.platform === undefined ? undefined : onePlatform(argv.platform);
  const command = [...((argv.command as unknown[]) ?? []), ...argv._.slice(1)].map(String);
  const spec = await parseRunFlags(runFlagsOf(argv), { cwd: process.cwd(), env, stdinIsTerminal: isatty(0) || background });
  const restartPolicy = runRestartPolicy(argv.restart, background, Boolean(argv.rm));
  if (!insideNamespace(env) && joinsOtherNamespace(argv.network)) {
    return withNamespaceOwner(String(argv.network), storeRoot(argv as GlobalOptions, env), (owner) => reexecInUserNamespaceOf(owner, process.argv.slice(1), env));
  }
  const session = await openSession(argv as GlobalOptions, env);
  try {
    const image = await ensureImage({ store: session.store, image: String(argv.image), policy: pullPolicy, argv, env, platform });
    await checkRlimitsAllowed(spec.rlimits, session.namespace.rootless);
    const limits = await enforceableResources(spec.resources, { rootless: session.namespace.rootless, mode: session.cgroupMode });
    if (limits.warning) process.stderr.write(`${limits.warning}\n`);
    const storageDriver = argv.storageDriver as string | undefined;
    const options: RunImageOptions = {
      store: session.store,
      driver: session.driver,
      runtime: session.runtime,
      idCount: session.namespace.idCount,
      image,
      command,
      remove: Boolean(argv.rm),
      name: argv.name as string | undefined,
      spec,
      resources: limits.resources,
      ...(restartPolicy ? { restartPolicy } : {}),
      orphanCleanup: (id) => orphanCleanupCommand(session.store.root, session.runtime.name, storageDriver, id),
      conmonCleanup: (id) => conmonCleanupCommand(session.store.root, session.runtime.name, storageDriver, id),
      ...(platform ? { platform } : {}),
    };
    return await make(options, session);
  } finally {
    await session.close();
  }
}
