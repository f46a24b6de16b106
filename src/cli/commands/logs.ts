import { ContainerStore, monitorAlive } from '../../run/containers.js';
import { copyLog, followLog, parseLogTime, type LogOptions } from '../../run/logs.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export const logsCommand: CommandModule = {
  name: 'logs',
  usage: 'logs <container>',
  describe: "Show a container's output (stdout and stderr, each on its own stream)",
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('container', { type: 'string', describe: 'Container name or id' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep printing new output until the container exits' })
      .option('tail', { alias: 'n', type: 'string', default: 'all', describe: 'Only the last N lines ("all": everything)' })
      .option('timestamps', { alias: 't', type: 'boolean', default: false, describe: 'Prefix each line with the time it was written' })
      .option('since', { type: 'string', describe: 'Only lines written since a time (2026-11-23T14:00:00Z, Unix seconds) or that long ago (10m, 1h30m)' })
      .option('until', { type: 'string', describe: 'Only lines written before a time or that long ago, as --since' }),
  handler: async (argv, env) => {
    const containers = ContainerStore.ofStore(storeRoot(argv as GlobalOptions, env));
    const record = await containers.find(String(argv.container));
    const file = containers.logPath(record.id);
    const tail = String(argv.tail);
    if (tail !== 'all' && !/^\d+$/.test(tail)) throw new UsageError(`--tail takes a number of lines or "all", not "${tail}".`);
    const options: LogOptions = { timestamps: Boolean(argv.timestamps), ...(tail === 'all' ? {} : { tail: Number(tail) }) };
    const now = Date.now();
    for (const flag of ['since', 'until'] as const) {
      if (argv[flag] === undefined) continue;
      const ms = parseLogTime(String(argv[flag]), now);
      if (ms === undefined) throw new UsageError(`--${flag} ${String(argv[flag])}: give a time (2026-11-23T14:00:00Z, 2026-11-23, Unix seconds) or how long ago (10m, 1h30m).`);
      options[flag === 'since' ? 'sinceMs' : 'untilMs'] = ms;
    }
    if (!argv.follow) {
      await copyLog(file, 0, process.stdout, process.stderr, options);
      return 0;
    }
    await followLog(file, process.stdout, process.stderr, async () => {
      const current = await containers.read(record.id).catch(() => undefined);
      return current !== undefined && monitorAlive(current);
    }, options);
    return 0;
  },
};
