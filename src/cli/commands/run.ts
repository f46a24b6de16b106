import { runImage } from '../../run/run-image.js';
import type { CommandModule } from '../command.js';
import { openSession, type GlobalOptions } from '../session.js';
import { UsageError } from '../../errors.js';

export const runCommand: CommandModule = {
  name: 'run',
  usage: 'run [options] IMAGE [COMMAND [ARG...]]',
  describe: 'Run a command in a new container from an image',
  needsNamespace: true,
  builder: (y) =>
    y
      .parserConfiguration({ 'halt-at-non-option': true })
      .option('rm', { type: 'boolean', default: false, describe: 'Remove the container when it exits' })
      .option('env', { alias: 'e', type: 'string', array: true, default: [], describe: 'Set an environment variable (NAME=VALUE)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory inside the container' })
      .option('user', { alias: 'u', type: 'string', describe: 'USER[:GROUP] to run as (names from the image)' })
      .option('network', { type: 'string', choices: ['host', 'none'], default: 'host', describe: 'Network: share the host\'s, or none (only lo)' }),
  handler: async (argv, env) => {
    const [image, ...command] = argv._.slice(1).map(String);
    if (!image) throw new UsageError('ribo run needs an image: ribo run [options] IMAGE [COMMAND [ARG...]].');
    const session = await openSession(argv as GlobalOptions, env);
    try {
      return await runImage({
        store: session.store,
        driver: session.driver,
        runtime: session.runtime,
        idCount: session.namespace.idCount,
        image,
        command,
        remove: Boolean(argv.rm),
        env: argv.env as string[],
        workdir: argv.workdir as string | undefined,
        user: argv.user as string | undefined,
        network: argv.network as 'host' | 'none',
        stdio: 'inherit',
      });
    } finally {
      await session.close();
    }
  },
};
