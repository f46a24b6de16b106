import { inspectImage } from '../../image/inspect.js';
import { onePlatform } from '../build-flags.js';
import { ContainerStore } from '../../run/containers.js';
import { inspectContainer } from '../../run/inspect.js';
import { recoverContainers } from '../../run/lifecycle.js';
import type { CommandModule } from '../command.js';
import { forEachName } from '../each-name.js';
import { compileTemplate } from '../template.js';
import { openStore, storeRoot, type GlobalOptions } from '../session.js';

export const inspectCommand: CommandModule = {
  name: 'inspect',
  usage: 'inspect <names..>',
  describe: 'Show containers or images as JSON (containers first, as docker does)',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, describe: 'Container name or id; image NAME[:TAG], manifest digest, or a unique prefix of one' })
      .option('format', { alias: 'f', type: 'string', describe: 'Print each one through a template: {{.State.ExitCode}}, {{json .Config}}' })
      .option('type', { type: 'string', choices: ['container', 'image'], describe: 'Look only for containers or only for images' })
      .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT]: of a multi-platform image, show this platform\'s (default: this machine\'s)' }),
  handler: async (argv, env) => {
    const template = argv.format === undefined ? undefined : String(argv.format);
    const compiled = template === undefined ? undefined : compileTemplate(template);
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    if (argv.type !== 'image') await recoverContainers(containers, root);
    const inspected: unknown[] = [];
    // As docker: the names found are printed, each one not found is an error.
    const exitCode = await forEachName((argv.names as unknown[]).map(String), async (ref) => {
      const record = argv.type === 'image' ? undefined : argv.type === 'container' ? await containers.find(ref) : await containers.lookup(ref);
      if (record) inspected.push(inspectContainer(containers, record));
      else inspected.push(await inspectImage(await openStore(argv as GlobalOptions, env), ref, argv.platform === undefined ? undefined : onePlatform(argv.platform)));
    });
    if (compiled !== undefined) for (const item of inspected) process.stdout.write(`${compiled.render(item)}\n`);
    else process.stdout.write(`${JSON.stringify(inspected, null, 2)}\n`);
    return exitCode;
  },
};
