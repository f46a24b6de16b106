import { ContainerStore } from '../../run/containers.js';
import { ContainerNotRunningError, parseSignal, signalContainer, startSettled, stopContainer, waitForExit } from '../../run/lifecycle.js';
import { UsageError } from '../../errors.js';
import { markStopRequested } from '../../run/restart-policy.js';
import type { CommandModule } from '../command.js';
import { forEachName } from '../each-name.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export const stopCommand: CommandModule = {
  name: 'stop',
  usage: 'stop <containers..>',
  describe: "Stop running containers: their STOPSIGNAL (default SIGTERM), then SIGKILL after a timeout",
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, describe: 'Container names or ids' })
      .option('time', { alias: 't', type: 'number', default: 10, describe: 'Seconds to wait before SIGKILL' })
      .option('signal', { alias: 's', type: 'string', describe: 'Signal to send first (default: the image\'s STOPSIGNAL, else SIGTERM)' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    const seconds = Number(argv.time);
    if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--time must be a number of seconds (0 or more), not "${String(argv.time)}".`);
    const signal = argv.signal === undefined ? undefined : parseSignal(String(argv.signal), '--signal');
    return forEachName((argv.containers as unknown[]).map(String), async (ref) => {
      const record = await containers.find(ref);
      await stopContainer(containers, root, record, seconds, signal);
      process.stdout.write(`${ref}\n`);
    });
  },
};

export const killCommand: CommandModule = {
  name: 'kill',
  usage: 'kill <containers..>',
  describe: 'Send a signal (default SIGKILL) to running containers',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, describe: 'Container names or ids' })
      .option('signal', { alias: 's', type: 'string', default: 'KILL', describe: 'Signal name or number' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    const signal = parseSignal(String(argv.signal), '--signal');
    return forEachName((argv.containers as unknown[]).map(String), async (ref) => {
      const record = await containers.find(ref);
      // As docker: a container killed by hand is not restarted by its --restart policy.
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await markStopRequested(containers, record);
      if (!signalContainer(await startSettled(containers, record), signal)) throw new ContainerNotRunningError(`Container ${ref} is not running (${record.status}); nothing to signal.`);
      // After SIGKILL the container is gone at once; report it as exited, as the next `ps` would.
      if (signal === 'SIGKILL') await waitForExit(containers, root, record.id, 10_000);
      process.stdout.write(`${ref}\n`);
    });
  },
};
