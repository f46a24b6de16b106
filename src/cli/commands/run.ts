import { isatty } from 'node:tty';
import { hideBin } from 'yargs/helpers';
import { hasRunFlags, plainRun } from '../../run/run-plan.js';
import { runImage, runImageDetached, type RunImageOptions } from '../../run/run-image.js';
import { conmonCleanupCommand, monitorLauncher, orphanCleanupCommand } from './container-monitor.js';
import { UsageError } from '../../errors.js';
import { parseRunFlags } from '../../run/run-options.js';
import { parseRestartPolicy } from '../../run/restart-policy.js';
import type { RestartPolicy } from '../../run/containers.js';
import { enforceableResources } from '../../runtime/cgroups.js';
import { checkRlimitsAllowed } from '../../runtime/rlimits.js';
import type { CommandModule } from '../command.js';
import { openSession, storeRoot, type GlobalOptions } from '../session.js';
import { asList } from '../options.js';
import { onePlatform } from '../build-flags.js';
import { asPullPolicy, ensureImage } from '../image-pull.js';
import { insideNamespace, reexecInUserNamespaceOf } from '../../runtime/namespace.js';
import { joinsOtherNamespace, withNamespaceOwner } from '../network-namespace.js';
import { withRegistryOptions } from '../registry-options.js';

/** Options that take a value as the next word: global ones, and per command those of `run` and `exec`. */
export const GLOBAL_VALUE_OPTIONS = ['--root', '--runtime', '--storage-driver'];
const VALUE_OPTIONS: Record<string, Set<string>> = {
  run: new Set([
    '--name', '-e', '--env', '--env-file', '-v', '--volume', '--mount', '-w', '--workdir', '-u', '--user', '--entrypoint',
    '--hostname', '--network', '-m', '--memory', '--memory-swap', '--memory-reservation', '--cpus', '--cpu-shares', '-c', '--cpuset-cpus', '--pids-limit', '--cap-add', '--cap-drop', '--security-opt',
    '--tmpfs', '-p', '--publish', '--network-alias', '--dns', '--add-host', '--pull', '--authfile', '--userns', '--image-volume', '--platform', '--restart',
    '--ulimit', '--shm-size', '--group-add', '--cidfile', '-l', '--label', '--stop-signal', '--stop-timeout', '--device', '--sysctl', '--expose', '--label-file', ...GLOBAL_VALUE_OPTIONS,
  ]),
  exec: new Set(['-e', '--env', '-w', '--workdir', '-u', '--user', ...GLOBAL_VALUE_OPTIONS]),
};

/** Commands whose words after the first positional are the container's command (run, exec). */
export function takesContainerCommand(name: string): boolean {
  return Object.hasOwn(VALUE_OPTIONS, name);
}

/**
 * Marks the end of ribo's own options with "--" right after the image (run)
 * or container (exec), so the container's command keeps its own flags
 * (`ribo run img sh -c 'exit 7'`). A short flag with its value attached, as
 * docker takes it (`-eA=1`, `-p8080:80`, `-uroot`, `-e=A=1`), is split into
 * the flag and its value first.
 */
export function protectContainerCommand(given: string[]): string[] {
  const globals = new Set(GLOBAL_VALUE_OPTIONS);
  let start = 0;
  while (start < given.length && given[start]!.startsWith('-')) start += globals.has(given[start]!) ? 2 : 1;
  const valueOptions = VALUE_OPTIONS[given[start] ?? ''];
  if (!valueOptions) return given;
  const args = given.slice(0, start + 1);
  for (let i = start + 1; i < given.length; i++) {
    const word = given[i]!;
    if (word === '--') return [...args, ...given.slice(i)];
    const attached = /^(-[A-Za-z])(.+)$/.exec(word);
    if (attached && valueOptions.has(attached[1]!)) {
      args.push(attached[1]!, attached[2]!.replace(/^=/, ''));
      continue;
    }
    args.push(word);
    if (word.startsWith('-')) {
      if (valueOptions.has(word) && i + 1 < given.length) args.push(given[++i]!);
      continue;
    }
    return [...args, '--', ...given.slice(i + 1)];
  }
  return args;
}

/** --restart's policy; refused with --rm and without -d, as there is no daemon to restart a foreground run. */
function runRestartPolicy(value: unknown, detach: boolean, remove: boolean): RestartPolicy | undefined {
  if (value === undefined) return undefined;
  const policy = parseRestartPolicy(String(value));
  if (policy.name === 'no') return undefined;
  if (remove) throw new UsageError(`--restart ${String(value)} and --rm conflict: a container removed when it exits cannot be restarted. Leave one out.`);
  if (!detach) throw new UsageError(`--restart ${String(value)} needs -d: ribo has no daemon, so only a detached container's monitor can restart it. Add -d.`);
  return policy;
}

export const runCommand: CommandModule = {
  name: 'run',
  usage: 'run <image> [command..]',
  describe: 'Run a command in a new container from an image',
  needsNamespace: (argv) => !joinsOtherNamespace(argv.network),
  builder: (y) =>
    withRegistryOptions(y)
      .option('rm', { type: 'boolean', default: false, describe: 'Remove the container when it exits' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'Run in the background and print the container id' })
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
      .option('network', { type: 'string', default: 'bridge', describe: 'bridge (own namespace, out through pasta), host, none, private (only lo), pasta, slirp4netns, container:NAME, or a network made with ribo network create' })
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
      .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT]: run the image\'s manifest for this platform (emulated with QEMU when foreign); default this machine\'s' }),
  handler: async (argv, env) => {
    const pullPolicy = asPullPolicy(argv.pull);
    const platform = argv.platform === undefined ? undefined : onePlatform(argv.platform);
    const requested = String(argv.image);
    const command = [...((argv.command as unknown[]) ?? []), ...argv._.slice(1)].map(String);
    const spec = await parseRunFlags({
      env: asList(argv.env),
      envFile: asList(argv.envFile),
      volume: asList(argv.volume),
      mount: asList(argv.mount),
      tmpfs: asList(argv.tmpfs),
      publish: asList(argv.publish),
      workdir: argv.workdir as string | undefined,
      user: argv.user as string | undefined,
      entrypoint: argv.entrypoint === undefined ? undefined : String(argv.entrypoint),
      interactive: Boolean(argv.interactive),
      tty: Boolean(argv.tty),
      hostname: argv.hostname as string | undefined,
      readOnly: Boolean(argv.readOnly),
      network: argv.network as string,
      networkAlias: asList(argv.networkAlias),
      publishAll: Boolean(argv.publishAll),
      dns: asList(argv.dns),
      addHost: asList(argv.addHost),
      memory: argv.memory as string | undefined,
      cpus: argv.cpus as string | undefined,
      memorySwap: argv.memorySwap === undefined ? undefined : String(argv.memorySwap),
      memoryReservation: argv.memoryReservation === undefined ? undefined : String(argv.memoryReservation),
      cpuShares: argv.cpuShares === undefined ? undefined : String(argv.cpuShares),
      cpusetCpus: argv.cpusetCpus === undefined ? undefined : String(argv.cpusetCpus),
      pidsLimit: argv.pidsLimit as string | undefined,
      capAdd: asList(argv.capAdd),
      capDrop: asList(argv.capDrop),
      securityOpt: asList(argv.securityOpt),
      init: Boolean(argv.init),
      privileged: Boolean(argv.privileged),
      userns: argv.userns as string | undefined,
      imageVolume: argv.imageVolume as string | undefined,
      ulimit: asList(argv.ulimit),
      shmSize: argv.shmSize === undefined ? undefined : String(argv.shmSize),
      groupAdd: asList(argv.groupAdd),
      cidfile: argv.cidfile === undefined ? undefined : String(argv.cidfile),
      label: asList(argv.label),
      device: asList(argv.device),
      expose: asList(argv.expose),
      labelFile: asList(argv.labelFile),
      sysctl: asList(argv.sysctl),
      stopSignal: argv.stopSignal === undefined ? undefined : String(argv.stopSignal),
      stopTimeout: argv.stopTimeout === undefined ? undefined : String(argv.stopTimeout),
      // A detached container's terminal (-dt) is conmon's, not ribo's.
    }, { cwd: process.cwd(), env, stdinIsTerminal: isatty(0) || Boolean(argv.detach) });
    const restartPolicy = runRestartPolicy(argv.restart, Boolean(argv.detach), Boolean(argv.rm));
    if (!insideNamespace(env) && joinsOtherNamespace(argv.network)) {
      return withNamespaceOwner(String(argv.network), storeRoot(argv as GlobalOptions, env), (owner) => reexecInUserNamespaceOf(owner, process.argv.slice(1), env));
    }
    const session = await openSession(argv as GlobalOptions, env);
    try {
      const image = await ensureImage({ store: session.store, image: requested, policy: pullPolicy, argv, env, platform });
      await checkRlimitsAllowed(spec.rlimits, session.namespace.rootless);
      const limits = await enforceableResources(spec.resources, { rootless: session.namespace.rootless, mode: session.cgroupMode });
      if (limits.warning) process.stderr.write(`${limits.warning}\n`);
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
        orphanCleanup: (id) => orphanCleanupCommand(session.store.root, session.runtime.name, argv.storageDriver as string | undefined, id),
        conmonCleanup: (id) => conmonCleanupCommand(session.store.root, session.runtime.name, argv.storageDriver as string | undefined, id),
        ...(platform ? { platform } : {}),
      };
      // A plan is the image's: written from a run without flags, it serves later runs with -e, -w and --name too.
      const planned = plainRun(hideBin(process.argv), env);
      if (planned !== undefined && !hasRunFlags(planned)) {
        const hybridCrun = session.cgroupMode === 'hybrid' && session.runtime.name === 'crun';
        options.runPlan = {
          namespaceMode: env.RIBO_IN_NAMESPACE ?? '',
          ...(hybridCrun ? { hideUnified: session.namespace.rootless ? 'mount' : 'umount' } : {}),
          ...(planned.network ? { network: planned.network } : {}),
        };
      }
      if (argv.detach) {
        const record = await runImageDetached(options, monitorLauncher(options.store.root, options.runtime.name, argv.storageDriver as string | undefined, env));
        process.stdout.write(`${record.id}\n`);
        return 0;
      }
      return await runImage(options);
    } finally {
      await session.close();
    }
  },
};

