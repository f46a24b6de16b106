import type { Argv, ArgumentsCamelCase } from 'yargs';

/** One ribo subcommand: its yargs definition and what it does. */
export interface CommandModule {
  name: string;
  usage: string;
  /** false hides an internal command from --help. */
  describe: string | false;
  /** True for commands that mount file systems or run containers (given their arguments). */
  needsNamespace: boolean | ((argv: ArgumentsCamelCase<Record<string, unknown>>) => boolean);
  builder: (yargs: Argv) => Argv;
  handler: (argv: ArgumentsCamelCase<Record<string, unknown>>, env: NodeJS.ProcessEnv) => Promise<number>;
}
