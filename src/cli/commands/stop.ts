import { ContainerStore } from '../../run/containers.js';
import { ContainerNotRunningError, signalContainer, startSettled, stopContainer, waitForExit } from '../../run/lifecycle.js';
import { parseSignal } from '../../run/signals.js';
import { markStopRequested } from '../../run/restart-policy.js';
import type { CommandModule } from '../command.js';
import { stopSeconds } from '../stop-time.js';
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
      .option('time', { alias: 't', type: 'number', describe: 'Seconds to wait before SIGKILL (default: the container\'s --stop-timeout, else 10)' })
      .option('signal', { alias: 's', type: 'string', describe: 'Signal to send first (default: the image\'s STOPSIGNAL, else SIGTERM)' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    const seconds = stopSeconds(argv.time);
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
