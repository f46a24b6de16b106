import os from 'node:os';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { build } from '../../build/builder.js';
import { loadDockerfile, resolvedBuildJSON } from '../../dockerfile/index.js';
import { UsageError } from '../../errors.js';
import { normalizeImageRef } from '../../store/index.js';
import type { CommandModule } from '../command.js';
import { openSession, type GlobalOptions } from '../session.js';
import { asList } from '../options.js';

function parseBuildArgs(values: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    // "--build-arg NAME" takes the value from ribo's own environment, as docker does.
    if (eq < 0) {
      if (env[value] !== undefined) args[value] = env[value]!;
    } else args[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return args;
}

/**
 * Builds are reproducible by default: every timestamp they write is
 * SOURCE_DATE_EPOCH when set, else 0 (1970-01-01), so the same context gives
 * the same image digest on any machine.
 */
function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value)) throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970 (got "${value}").`);
  return Number(value);
}

export const buildCommand: CommandModule = {
  name: 'build',
  usage: 'build <context>',
  describe: 'Build an image from a Dockerfile',
  // --print only reads the Dockerfile.
  needsNamespace: (argv) => !argv.print,
  builder: (y) =>
    y
      .positional('context', { type: 'string', describe: 'Build context directory' })
      .option('tag', { alias: 't', type: 'string', describe: 'Name and optional tag (NAME[:TAG]); may be repeated' })
      .option('file', { alias: 'f', type: 'string', describe: 'Dockerfile (default: CONTEXT/Dockerfile)' })
      .option('build-arg', { type: 'string', describe: 'Set a build-time variable (NAME=VALUE)' })
      .option('target', { type: 'string', describe: 'Build this stage and the ones it needs' })
      .option('cache', { type: 'boolean', default: true, describe: 'Reuse unchanged steps of earlier builds (--no-cache runs every step)' })
      .option('explain', { type: 'boolean', default: false, describe: 'Say for each step that is not reused which of its inputs changed' })
      .option('jobs', { type: 'number', default: os.cpus().length, describe: 'Stages built at the same time at most' })
      .option('print', { type: 'boolean', default: false, describe: 'Print the resolved build plan as JSON instead of building' }),
  handler: async (argv, env) => {
    if (argv._.length > 1) throw new UsageError(`ribo build takes exactly one build context directory (got also: ${argv._.slice(1).join(' ')}); e.g. ribo build -t app .`);
    const contextDir = path.resolve(String(argv.context));
    const contextInfo = await stat(contextDir).catch(() => undefined);
    if (!contextInfo?.isDirectory()) throw new UsageError(`Build context ${contextDir} is not a directory; give the directory whose files COPY may use.`);
    const tags = asList(argv.tag).map((t) => normalizeImageRef(t));
    const dockerfile = argv.file ? path.resolve(String(argv.file)) : path.join(contextDir, 'Dockerfile');
    const buildArgs = parseBuildArgs(asList(argv.buildArg), env);
    if (argv.print) {
      const parsed = await loadDockerfile(dockerfile);
      process.stdout.write(`${resolvedBuildJSON(parsed, { buildArgs, target: argv.target as string | undefined })}\n`);
      return 0;
    }
    const session = await openSession(argv as GlobalOptions, env);
    try {
      const started = Date.now();
      const result = await build({
        store: session.store,
        driver: session.driver,
        runtime: session.runtime,
        idCount: session.namespace.idCount,
        contextDir,
        dockerfile,
        tags,
        buildArgs,
        target: argv.target as string | undefined,
        out: process.stderr,
        epoch: sourceDateEpoch(env),
        useCache: argv.cache !== false,
        explain: Boolean(argv.explain),
        jobs: Number(argv.jobs),
      });
      process.stderr.write(`Built ${result.manifest.digest} in ${((Date.now() - started) / 1000).toFixed(1)}s${tags.length ? `, tagged ${tags.join(', ')}` : ''}\n`);
      process.stdout.write(`${result.manifest.digest}\n`);
      return 0;
    } finally {
      await session.close();
    }
  },
};
