import { ContainerStore, type ContainerRecord } from '../../run/containers.js';
import { prepareRestart, stopContainer } from '../../run/lifecycle.js';
import { launchMonitor, superviseContainer } from '../../run/supervise.js';
import { UsageError } from '../../errors.js';
import { capabilitiesOf } from '../../snapshot/index.js';
import type { CommandModule } from '../command.js';
import { stopSeconds } from '../stop-time.js';
import { openSession, storeRoot, type GlobalOptions } from '../session.js';
import { conmonCleanupCommand, monitorLauncher, orphanCleanupCommand } from './container-monitor.js';
import { insideNamespace, reexecInNamespace, reexecInUserNamespaceOf } from '../../runtime/namespace.js';
import { commonNetwork, withNamespaceOwner } from '../network-namespace.js';

/**
 * Enters ribo's namespaces for `start`/`restart` (needsNamespace is false for
 * them): the user namespace of the network the containers are on, if any.
 */
async function reexecFor(refs: string[], root: string, env: NodeJS.ProcessEnv): Promise<number> {
  const containers = ContainerStore.ofStore(root);
  const records = [];
  for (const ref of refs) records.push(await containers.find(ref));
  const network = commonNetwork(records);
  if (network === undefined) return reexecInNamespace(process.argv.slice(1), env);
  return withNamespaceOwner(network, root, (owner) => reexecInUserNamespaceOf(owner, process.argv.slice(1), env));
}

function assertStartable(ref: string, record: ContainerRecord): void {
  if (capabilitiesOf(record.driver)?.reusesKeptUpper === false) {
    throw new UsageError(`Container ${ref} ran with the copying fallback driver, which cannot lay its kept writable layer over the image again; it cannot be started again. Run a new container instead (ribo run).`);
  }
}

/**
 * Starts an exited container again over its kept writable layer: in the
 * background, or with `attach` in the foreground (returning its exit code).
 * Undefined when it was already running.
 */
async function startAgain(argv: GlobalOptions, env: NodeJS.ProcessEnv, containers: ContainerStore, root: string, ref: string, record: ContainerRecord, attach: boolean): Promise<number | undefined> {
  assertStartable(ref, record);
  // The same driver and runtime as before: the writable layer is in that driver's encoding.
  const session = await openSession({ ...argv, runtime: record.runtime, storageDriver: record.driver || undefined }, env);
  try {
    const fresh = await prepareRestart(containers, root, record);
    if (!fresh) return undefined;
    if (attach) {
      const orphanCleanup = (id: string) => orphanCleanupCommand(root, record.runtime, record.driver || undefined, id);
      const conmonCleanup = (id: string) => conmonCleanupCommand(root, record.runtime, record.driver || undefined, id);
      return (await superviseContainer({ driver: session.driver, runtime: session.runtime, containers, leaveStore: () => session.store.leave(), orphanCleanup, conmonCleanup }, fresh, 'foreground')).exitCode;
    }
    await launchMonitor(containers, fresh, monitorLauncher(root, record.runtime, record.driver || undefined, env));
    return 0;
  } finally {
    await session.close();
  }
}

export const startCommand: CommandModule = {
  name: 'start',
  usage: 'start <containers..>',
  describe: 'Start exited containers again, over the writable layer they kept',
  // Entered in the handler: containers on a network between containers start in its holder's user namespace.
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, describe: 'Container names or ids' })
      .option('attach', { alias: 'a', type: 'boolean', default: false, describe: 'Stay with the container, show its output and exit with its exit code' }),
  handler: async (argv, env) => {
    const refs = (argv.containers as unknown[]).map(String);
    if (argv.attach && refs.length > 1) throw new UsageError('ribo start -a attaches to one container at a time; name only one.');
    const root = storeRoot(argv as GlobalOptions, env);
    if (!insideNamespace(env)) return reexecFor(refs, root, env);
    const containers = ContainerStore.ofStore(root);
    for (const ref of refs) {
      const started = await startAgain(argv as GlobalOptions, env, containers, root, ref, await containers.find(ref), Boolean(argv.attach));
      if (started === undefined && argv.attach) throw new UsageError(`Container ${ref} is already running; use ribo logs -f ${ref} to follow it.`);
      if (argv.attach) return started!;
      process.stdout.write(`${ref}\n`);
    }
    return 0;
  },
};

export const restartCommand: CommandModule = {
  name: 'restart',
  usage: 'restart <containers..>',
  describe: 'Stop containers (as ribo stop does) and start them again in the background',
  // Stopped from the host, as `ribo stop` does: a fresh namespace of ribo's own may not signal a container's non-root process (EPERM).
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, describe: 'Container names or ids' })
      .option('time', { alias: 't', type: 'number', describe: 'Seconds to wait for the stop signal before SIGKILL (default: the container\'s --stop-timeout, else 10)' }),
  handler: async (argv, env) => {
    const seconds = stopSeconds(argv.time);
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    const refs = (argv.containers as unknown[]).map(String);
    if (!insideNamespace(env)) {
      for (const ref of refs) {
        const record = await containers.find(ref);
        // Said before anything is stopped.
        assertStartable(ref, record);
        if (record.autoRemove) throw new UsageError(`Container ${ref} was run with --rm: stopping removes it, so it cannot be restarted. Stop it with ribo stop ${ref}, or run it without --rm.`);
      }
      for (const ref of refs) await stopContainer(containers, root, await containers.find(ref), seconds);
      // The starts happen in ribo's namespaces (a network's, if they are on one), as `ribo start` does.
      return reexecFor(refs, root, env);
    }
    for (const ref of refs) {
      await startAgain(argv as GlobalOptions, env, containers, root, ref, await containers.find(ref), false);
      process.stdout.write(`${ref}\n`);
    }
    return 0;
  },
};
