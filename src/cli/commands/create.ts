import { createIdleContainer } from '../../run/run-image.js';
import { parseRunFlags } from '../../run/run-options.js';
import { insideNamespace, reexecInUserNamespaceOf } from '../../runtime/namespace.js';
import type { CommandModule } from '../command.js';
import { onePlatform } from '../build-flags.js';
import { asPullPolicy, ensureImage } from '../image-pull.js';
import { joinsOtherNamespace, withNamespaceOwner } from '../network-namespace.js';
import { containerOptions, runFlagsOf, runRestartPolicy, withContainerOptions } from '../run-flags.js';
import { openSession, storeRoot, type GlobalOptions } from '../session.js';

/**
 * `ribo create`: a container made from an image as `ribo run -d` makes it,
 * not started (docker's Created state). `ribo start` runs it, `ribo cp`
 * copies files out of (or into) it before that, `ribo rm` removes it.
 */
export const createCommand: CommandModule = {
  name: 'create',
  usage: 'create <image> [command..]',
  describe: 'Create a container from an image without starting it (ribo start runs it); prints its id',
  needsNamespace: (argv) => !joinsOtherNamespace(argv.network),
  builder: (y) => withContainerOptions(y),
  handler: async (argv, env) => {
    const pullPolicy = asPullPolicy(argv.pull);
    const platform = argv.platform === undefined ? undefined : onePlatform(argv.platform);
    const command = [...((argv.command as unknown[]) ?? []), ...argv._.slice(1)].map(String);
    // Started later by `ribo start`: a terminal (-t) is then conmon's (or start -a's), never this command's.
    const spec = await parseRunFlags(runFlagsOf(argv), { cwd: process.cwd(), env, stdinIsTerminal: true });
    // A created container is started in the background, as run -d is: a --restart policy may apply.
    const restartPolicy = runRestartPolicy(argv.restart, true, Boolean(argv.rm));
    if (!insideNamespace(env) && joinsOtherNamespace(argv.network)) {
      return withNamespaceOwner(String(argv.network), storeRoot(argv as GlobalOptions, env), (owner) => reexecInUserNamespaceOf(owner, process.argv.slice(1), env));
    }
    const session = await openSession(argv as GlobalOptions, env);
    try {
      const image = await ensureImage({ store: session.store, image: String(argv.image), policy: pullPolicy, argv, env, platform });
      const options = await containerOptions(argv, session, { image, command, spec, ...(restartPolicy ? { restartPolicy } : {}), ...(platform ? { platform } : {}) });
      const record = await createIdleContainer(options);
      process.stdout.write(`${record.id}\n`);
      return 0;
    } finally {
      await session.close();
    }
  },
};
