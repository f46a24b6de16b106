import { hideBin } from 'yargs/helpers';
import { hasRunFlags, plainRun } from '../../run/run-plan.js';
import { runImage, runImageDetached } from '../../run/run-image.js';
import { withContainerOptions, withContainerToMake } from '../run-flags.js';
import { monitorLauncher } from './container-monitor.js';
import type { CommandModule } from '../command.js';
import { joinsOtherNamespace } from '../network-namespace.js';

/** Options that take a value as the next word: global ones, and per command those of `run`, `create` and `exec`. */
export const GLOBAL_VALUE_OPTIONS = ['--root', '--runtime', '--storage-driver'];
const CONTAINER_VALUE_OPTIONS = new Set([
  '--name', '-e', '--env', '--env-file', '-v', '--volume', '--mount', '-w', '--workdir', '-u', '--user', '--entrypoint',
  '--hostname', '--network', '-m', '--memory', '--memory-swap', '--memory-reservation', '--cpus', '--cpu-shares', '-c', '--cpuset-cpus', '--pids-limit', '--cap-add', '--cap-drop', '--security-opt',
  '--tmpfs', '-p', '--publish', '--network-alias', '--dns', '--add-host', '--pull', '--authfile', '--userns', '--image-volume', '--platform', '--restart',
  '--ulimit', '--shm-size', '--group-add', '--cidfile', '-l', '--label', '--stop-signal', '--stop-timeout', '--device', '--sysctl', '--expose', '--label-file', ...GLOBAL_VALUE_OPTIONS,
]);
const VALUE_OPTIONS: Record<string, Set<string>> = {
  run: CONTAINER_VALUE_OPTIONS,
  create: CONTAINER_VALUE_OPTIONS,
  exec: new Set(['-e', '--env', '-w', '--workdir', '-u', '--user', ...GLOBAL_VALUE_OPTIONS]),
};

/** Commands whose words after the first positional are the container's command (run, create, exec). */
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

export const runCommand: CommandModule = {
  name: 'run',
  usage: 'run <image> [command..]',
  describe: 'Run a command in a new container from an image',
  needsNamespace: (argv) => !joinsOtherNamespace(argv.network),
  builder: (y) => withContainerOptions(y).option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'Run in the background and print the container id' }),
  handler: (argv, env) =>
    withContainerToMake(argv, env, Boolean(argv.detach), async (options, session) => {
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
      return runImage(options);
    }),
};

