import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { RiboError } from '../errors.js';
import { asDiskFull } from '../files/disk-full.js';
import { storeRoot, type GlobalOptions } from './session.js';
import { joinNoOptionValues, keepLastValue } from './options.js';
import { insideNamespace, reexecInNamespace } from '../runtime/namespace.js';
import { buildCommand } from './commands/build.js';
import { GLOBAL_VALUE_OPTIONS, protectContainerCommand, runCommand, takesContainerCommand } from './commands/run.js';
import { createCommand } from './commands/create.js';
import { imagesCommand } from './commands/images.js';
import { importCommand } from './commands/import.js';
import { infoCommand } from './commands/info.js';
import { inspectCommand } from './commands/inspect.js';
import { historyCommand } from './commands/history.js';
import { tagCommand } from './commands/tag.js';
import { rmiCommand } from './commands/rmi.js';
import { buildLogCommand } from './commands/build-log.js';
import { saveCommand } from './commands/save.js';
import { loadCommand } from './commands/load.js';
import { pruneCommand } from './commands/prune.js';
import { layersCommand } from './commands/layers.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { psCommand } from './commands/ps.js';
import { stopCommand, killCommand } from './commands/stop.js';
import { rmCommand } from './commands/rm.js';
import { logsCommand } from './commands/logs.js';
import { execCommand } from './commands/exec.js';
import { containerCleanupCommand, containerMonitorCommand } from './commands/container-monitor.js';
import { restartCommand, startCommand } from './commands/start.js';
import { cpCommand } from './commands/cp.js';
import { waitCommand } from './commands/wait.js';
import { volumeCommand } from './commands/volume.js';
import { networkCommand } from './commands/network.js';
import { attachCommand } from './commands/attach.js';
import { portCommand } from './commands/port.js';
import { containerPruneCommand } from './commands/container-prune.js';
import { riboVersion, versionCommand } from './commands/version.js';
import { expandManagementCommand, MANAGEMENT_COMMANDS } from './management.js';
import { usageFailure } from './usage-errors.js';
import type { CommandModule } from './command.js';
import { reportError } from './each-name.js';

const COMMANDS: CommandModule[] = [
  buildCommand, runCommand, createCommand, imagesCommand, importCommand, infoCommand, inspectCommand, historyCommand, tagCommand, rmiCommand,
  buildLogCommand, saveCommand, loadCommand, pruneCommand, layersCommand, pullCommand, pushCommand, loginCommand, logoutCommand,
  psCommand, startCommand, restartCommand, stopCommand, cpCommand, killCommand, rmCommand, logsCommand, attachCommand, waitCommand, portCommand, execCommand, containerMonitorCommand, containerCleanupCommand,
  volumeCommand, versionCommand, containerPruneCommand,
  networkCommand,
];

function printError(error: unknown): number {
  if (error instanceof RiboError) return reportError(error);
  process.stderr.write(`ribo: internal error (please report it): ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  return 70;
}

function parser(args: string[], typed: string[]): Argv {
  let cli = yargs(args)
    .scriptName('ribo')
    .usage('$0 <command> [options]\n\nBuild and run OCI container images, rootless and without a daemon.')
    .option('root', { type: 'string', describe: 'Store directory (default: $RIBO_ROOT, else $XDG_DATA_HOME/ribo or ~/.local/share/ribo)' })
    .option('runtime', { type: 'string', describe: 'OCI runtime: crun or runc (default: $RIBO_RUNTIME, else crun)' })
    .option('storage-driver', { type: 'string', describe: 'overlay, fuse-overlayfs or copy (default: $RIBO_STORAGE_DRIVER, else the first that works, in that order)' })
    // A container's command keeps its words as typed: `echo 0x10 1.10` is not `echo 16 1.1`.
    // A repeatable (array) option takes one value each time it is given.
    .parserConfiguration({ 'parse-positional-numbers': false, 'greedy-arrays': false })
    .middleware(keepLastValue as unknown as Parameters<Argv['middleware']>[0], true)
    .strict()
    .demandCommand(1, 'Name a command; `ribo --help` lists them.')
    .help()
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? usageFailure(typed, COMMANDS, message, takesContainerCommand);
    });
  for (const command of COMMANDS) {
    // describe false hides a command from --help (yargs' typings only admit strings)
    cli = cli.command(command.usage, command.describe as string, command.builder, () => undefined);
  }
  for (const [group, subcommands] of Object.entries(MANAGEMENT_COMMANDS)) {
    const list = Object.entries(subcommands).map(([sub, target]) => `${sub} (${target[0]})`).join(', ');
    cli = cli.command(`${group} <command>`, `The same commands, as docker spells them: ${list}`, (y) => y, () => undefined);
  }
  // After running a command's handler yargs renders the whole help text, to
  // have it ready; that costs about a tenth of `ribo run`'s start. ribo never
  // shows it then (--help renders it when asked).
  const usage = (cli as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;
  return cli;
}

async function main(): Promise<number> {
  // `ribo images | head` closes the pipe early; stop quietly as other CLIs do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  // Warnings (an unreadable CA file, a credential helper that is not installed) read as ribo's own lines.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => process.stderr.write(`ribo: warning: ${warning.message}\n`));
  const typed = hideBin(process.argv);
  const words = typed.filter((word, i) => !GLOBAL_VALUE_OPTIONS.includes(word) && !GLOBAL_VALUE_OPTIONS.includes(typed[i - 1] ?? ''));
  if (words.length === 1 && (words[0] === '--version' || words[0] === '-v')) {
    process.stdout.write(`ribo version ${riboVersion()}\n`);
    return 0;
  }
  const args = expandManagementCommand(typed, (name) => COMMANDS.some((c) => c.name === name));
  const argv = await parser(joinNoOptionValues(protectContainerCommand(args)), args).parseAsync();
  const name = String(argv._[0]);
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return 2;
  // Commands that mount or run containers work inside ribo's own namespaces.
  const needsNamespace = typeof command.needsNamespace === 'function' ? command.needsNamespace(argv) : command.needsNamespace;
  if (needsNamespace && !insideNamespace(process.env)) {
    return reexecInNamespace([process.argv[1]!, ...args], process.env);
  }
  try {
    return await command.handler(argv, process.env);
  } catch (error) {
    // A full disk is the user's to fix wherever it struck, even inside an error that wraps it.
    throw asDiskFull(error, undefined, storeRoot(argv as GlobalOptions, process.env));
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = printError(error);
  },
);
