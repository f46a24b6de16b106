import { ContainerStore, monitorAlive, type ContainerRecord } from '../../run/containers.js';
import { execInContainer } from '../../run/exec.js';
import { ContainerNotRunningError, recoverContainer } from '../../run/lifecycle.js';
import { OciRuntime, runtimeStateDir } from '../../runtime/oci-runtime.js';
import { currentNamespace, insideNamespace, reexecInNamespaceOf } from '../../runtime/namespace.js';
import { UsageError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { asList } from '../options.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export const execCommand: CommandModule = {
  name: 'exec',
  usage: 'exec <container> [command..]',
  describe: 'Run a command in a running container',
  // It joins the namespaces of the container's monitor, not new ones.
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('container', { type: 'string', describe: 'Container name or id' })
      .positional('command', { type: 'string', array: true, describe: 'The command and its arguments' })
      .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'Keep stdin open' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'Give the command a terminal' })
      .option('env', { array: true, alias: 'e', type: 'string', describe: 'Set an environment variable (NAME=VALUE)' })
      .option('user', { alias: 'u', type: 'string', describe: 'USER[:GROUP] to run as (names from the image)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'Working directory inside the container' }),
  handler: async (argv, env) => {
    const command = [...((argv.command as unknown[]) ?? []), ...argv._.slice(1)].map(String);
    if (command.length === 0) throw new UsageError('ribo exec needs a command to run: ribo exec CONTAINER COMMAND [ARG...].');
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    let record: ContainerRecord | undefined = await containers.find(String(argv.container));
    if (!monitorAlive(record)) {
      if (record.status !== 'exited') record = await recoverContainer(containers, root, record);
      throw new ContainerNotRunningError(`Container ${String(argv.container)} is not running${record ? ` (${record.status}${record.exitCode !== undefined ? `, exit code ${record.exitCode}` : ''})` : ''}; exec needs a running container.`);
    }
    if (!insideNamespace(env)) return reexecInNamespaceOf(record.monitor.pid, process.argv.slice(1), env);
    const namespace = await currentNamespace(env);
    const runtime = await OciRuntime.select({ requested: record.runtime, stateDir: runtimeStateDir(root, record.runtime), rootless: namespace.rootless });
    return execInContainer(runtime, containers, record, {
      command,
      env: asList(argv.env),
      user: argv.user as string | undefined,
      workdir: argv.workdir as string | undefined,
      interactive: Boolean(argv.interactive),
      tty: Boolean(argv.tty),
    });
  },
};
