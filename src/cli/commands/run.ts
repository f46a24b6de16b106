import { runImage } from '../../run/run-image.js';
import type { CommandModule } from '../command.js';
import { openSession, type GlobalOptions } from '../session.js';
import { asList } from '../options.js';

/** Options of `ribo run` (and global ones) that take a value as the next word. */
const VALUE_OPTIONS = new Set(['-e', '--env', '-w', '--workdir', '-u', '--user', '--network', '--root', '--runtime', '--storage-driver']);

/**
 * Marks the end of ribo's own options with "--" right after the image, so the
 * container's command keeps its own flags (`ribo run img sh -c 'exit 7'`).
 */
export function protectContainerCommand(args: string[]): string[] {
  let start = 0;
  while (start < args.length && args[start]!.startsWith('-')) start += VALUE_OPTIONS.has(args[start]!) ? 2 : 1;
  if (args[start] !== 'run') return args;
  for (let i = start + 1; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') return args;
    if (word.startsWith('-')) {
      if (VALUE_OPTIONS.has(word)) i += 1;
      continue;
    }
    return [...args.slice(0, i + 1), '--', ...args.slice(i + 1)];
  }
  return args;
}

export const runCommand: CommandModule = {
  name: 'run',
  usage: 'run <image> [command..]',
  describe: 'Run a command in a new container from an image',
  needsNamespace: true,
  builder: (y) =>
    y
      .option('rm', { type: 'boolean', default: false, describe: 'Remove the container when it exits' })
      .option('env', { alias: 'e', type: 'string', describe: 'Set an environment variable (NAME=VALUE)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory inside the container' })
      .option('user', { alias: 'u', type: 'string', describe: 'USER[:GROUP] to run as (names from the image)' })
      .option('network', { type: 'string', choices: ['host', 'none'], default: 'host', describe: 'Network: share the host\'s, or none (only lo)' }),
  handler: async (argv, env) => {
    const image = String(argv.image);
    const command = [...((argv.command as unknown[]) ?? []), ...argv._.slice(1)].map(String);
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
        env: asList(argv.env),
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
