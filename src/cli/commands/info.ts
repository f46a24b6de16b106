import os from 'node:os';
import { hideBin } from 'yargs/helpers';
import type { CommandModule } from '../command.js';
import { openSession, storeRoot, type GlobalOptions } from '../session.js';
import { settleSnapshotter } from '../../snapshot/index.js';
import { insideNamespace, reexecInNamespace } from '../../runtime/namespace.js';
import { subordinateIdProblem } from '../../runtime/subids.js';
import { gzipCompressor, type GzipCompressor } from '../../layer/index.js';

/**
 * Without the subordinate ids rootless mode needs, there is no namespace to
 * look from: `ribo info` then says what is missing and how to add it,
 * rather than failing as the commands that need the namespace do.
 */
function reportMissingIds(argv: GlobalOptions, env: NodeJS.ProcessEnv, problem: string, format: unknown): number {
  const info = { store: storeRoot(argv, env), rootless: true, idCount: 0, subordinateIds: problem };
  if (format === 'json') process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  else process.stdout.write([`store:          ${info.store}`, `rootless:       not set up: ${problem}`].join('\n') + '\n');
  return 0;
}

/** Layer blobs' bytes depend on the compressor (their contents do not): shown so two machines' digests can be explained. */
function describeGzip(gzip: GzipCompressor): string {
  if (gzip.kind === 'igzip') return `igzip (${gzip.path})`;
  return `zlib, in ribo${gzip.parallel ? '' : ' (one thread)'}; install the "isal" package for igzip`;
}

export const infoCommand: CommandModule = {
  name: 'info',
  usage: 'info',
  describe: 'Show the store, storage driver, OCI runtime and namespace ribo uses',
  // It enters the namespace itself, after checking that it can (reportMissingIds).
  needsNamespace: false,
  builder: (y) => y.option('format', { type: 'string', choices: ['text', 'json'], default: 'text', describe: 'Output format' }),
  handler: async (argv, env) => {
    if (!insideNamespace(env)) {
      const user = os.userInfo();
      const problem = user.uid === 0 ? undefined : await subordinateIdProblem(user.username, user.uid);
      if (problem) return reportMissingIds(argv as GlobalOptions, env, problem, argv.format);
      return reexecInNamespace([process.argv[1]!, ...hideBin(process.argv)], env);
    }
    const session = await openSession(argv as GlobalOptions, env);
    try {
      const info = {
        store: session.store.root,
        rootless: session.namespace.rootless,
        idCount: session.namespace.idCount,
        storageDriver: await settleSnapshotter(session.driver, session.store),
        runtime: session.runtime.name,
        runtimePath: session.runtime.binary,
        runtimeVersion: await session.runtime.version(),
        cgroups: session.cgroupMode,
        layerGzip: describeGzip(await gzipCompressor()),
      };
      if (argv.format === 'json') process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      else {
        process.stdout.write(
          [
            `store:          ${info.store}`,
            `rootless:       ${info.rootless ? `yes (${info.idCount} ids mapped)` : 'no (running as root)'}`,
            `storage driver: ${info.storageDriver}`,
            `runtime:        ${info.runtime} (${info.runtimePath}, ${info.runtimeVersion})`,
            `cgroups:        ${info.cgroups}`,
            `layer gzip:     ${info.layerGzip}`,
          ].join('\n') + '\n',
        );
      }
      return 0;
    } finally {
      await session.close();
    }
  },
};
