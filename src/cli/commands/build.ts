import os from 'node:os';
import path from 'node:path';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { NeedsNamespaceError } from '../../build/builder.js';
import { buildForPlatforms, type PlatformBuildResult } from '../../build/multi-platform.js';
import type { Descriptor, Platform } from '../../oci/image.js';
import { insideNamespace, reexecInNamespace } from '../../runtime/namespace.js';
import { BufferedReporter, outsideNamespace } from '../outside-namespace.js';
import { createRenderer, parseProgressMode, resolveProgressMode, withBuildId, type Renderer } from '../progress/index.js';
import { teeReporter, type BuildReporter } from '../../build/progress/events.js';
import { BuildLogs, newBuildId, type BuildLogRecorder } from '../../build/progress/build-logs.js';
import { BuildFailedError } from '../../build/errors.js';
import { loadDockerfile, parseDockerfile, resolvedBuildJSON } from '../../dockerfile/index.js';
import { RiboError, UsageError } from '../../errors.js';
import { asDiskFull, diskFullCause } from '../../files/disk-full.js';
import { imageIdOf, type Store } from '../../store/index.js';
import { checkBuildOutput, writeBuildOutput, type BuildOutput } from '../../image/build-output.js';
import { canonicalRef, normalizeImageRef, parseImageRef } from '../../oci/reference.js';
import { pullImage, TransferProgress, type ProgressOut, type Registries } from '../../registry/index.js';
import { RegistryCache } from '../../build/cache/registry-cache.js';
import { openRegistries, withRegistryOptions } from '../registry-options.js';
import type { CommandModule } from '../command.js';
import { openSession, openStore, type GlobalOptions } from '../session.js';
import { asCompression, asList, compressionOption } from '../options.js';
import { parseBuildNetwork, parseBuildPlatforms, parseSecrets, parseSshAgents } from '../build-flags.js';
import { parseShmSize, parseUlimits } from '../../run/limit-options.js';
import { parseAddHosts } from '../../run/run-options.js';
import { checkRlimitsAllowed } from '../../runtime/rlimits.js';
import { contextArgument, readsStdin, resolveBuildInput } from '../build-input.js';
import { hideBin } from 'yargs/helpers';

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

type CacheOption = { dir: string } | { registryRef: string } | { imageRef: string } | { inline: true };

/** A bare --cache-from value is a directory when it looks like a path or is one; otherwise an image (docker's inline cache). */
function looksLikeDirectory(value: string): boolean {
  return /^[./~]/.test(value) || statSync(value, { throwIfNoEntry: false })?.isDirectory() === true;
}

/**
 * A cache option: "type=local,src=DIR" or a bare path (a directory),
 * "type=registry,ref=REF", for --cache-from an image name (its inline
 * cache), for --cache-to "type=inline".
 */
function cacheOption(flag: string, value: string, pathKey: 'src' | 'dest'): CacheOption {
  if (!value.includes('=')) {
    if (pathKey === 'src' && !looksLikeDirectory(value)) {
      parseImageRef(value);
      return { imageRef: value };
    }
    return { dir: path.resolve(value) };
  }
  const fields = new Map(value.split(',').map((part) => {
    const eq = part.indexOf('=');
    return [part.slice(0, eq), part.slice(eq + 1)] as const;
  }));
  const type = fields.get('type') ?? 'local';
  if (type === 'inline' && pathKey === 'dest') return { inline: true };
  if (type === 'registry') {
    const ref = fields.get('ref');
    if (!ref) throw new UsageError(`${flag} ${value}: give the image reference as ref=REF, e.g. ${flag} type=registry,ref=localhost:5000/app:buildcache.`);
    parseImageRef(ref);
    return { registryRef: ref };
  }
  if (type !== 'local') throw new UsageError(`${flag} ${value}: the cache type must be local or registry${pathKey === 'dest' ? ', or inline (in the image)' : ''}.`);
  const dir = fields.get(pathKey);
  if (!dir) throw new UsageError(`${flag} ${value}: give the directory as ${pathKey}=DIR, e.g. ${flag} type=local,${pathKey}=./build-cache.`);
  return { dir: path.resolve(dir) };
}

/**
 * The registry side of a build: --cache-from/--cache-to type=registry, and
 * FROM images pulled on demand. Transfers are told in plain lines, as `info`
 * events straight to the renderer (shown even when the attempt outside the
 * namespace is abandoned: what was pulled stays pulled); `say` is undefined with -q.
 */
function registryHooks(registries: Registries, cacheFrom: string[], cacheTo: string | undefined, say: BuildReporter | undefined) {
  const info = (text: string) => {
    for (const line of text.split('\n')) if (line) say?.report({ type: 'info', time: Date.now(), message: line });
    return true;
  };
  const lines: ProgressOut = { isTTY: false, write: info } as ProgressOut;
  const progress = new TransferProgress(lines, say === undefined);
  const cache = (value: string) => {
    const ref = parseImageRef(value);
    return new RegistryCache(registries.client(ref.registry), ref, progress);
  };
  return {
    cacheImports: cacheFrom.map(cache),
    cacheExports: cacheTo === undefined ? [] : [cache(cacheTo)],
    pullImage: async (name: string, store: Store, platform: Platform) => {
      const ref = parseImageRef(name);
      progress.line(`Pulling ${canonicalRef(ref)} (not in the store)`);
      const result = await pullImage({ store, client: registries.client(ref.registry), ref, platform, progress, keepOtherPlatforms: true });
      return result.manifest.digest;
    },
  };
}

/** --output type=oci|docker,dest=FILE or type=local,dest=DIR (a bare path means local, as in docker). */
function parseOutput(value: string): BuildOutput {
  if (!value.includes('=')) return { type: 'local', dest: value };
  const fields = new Map(value.split(',').map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)] as const));
  const type = fields.get('type');
  const dest = fields.get('dest');
  if (type !== 'oci' && type !== 'docker' && type !== 'local') throw new UsageError(`--output ${value}: type must be oci, docker or local (e.g. --output type=oci,dest=image.tar).`);
  if (!dest) throw new UsageError(`--output ${value}: give where to write it as dest=${type === 'local' ? 'DIR' : 'FILE'}.`);
  const overwrite = fields.get('overwrite');
  if (overwrite !== undefined && (type !== 'local' || !['true', 'false'].includes(overwrite))) {
    throw new UsageError(`--output ${value}: overwrite=true|false is an option of type=local only.`);
  }
  return { type, dest, overwrite: overwrite === 'true' };
}

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label ${value}: labels are KEY=VALUE.`);
    labels[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return labels;
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

/** Finishes writing a build's log; a log that could not be written is worth a warning, not a failed build. */
async function closeLog(recorder: BuildLogRecorder, renderer: Renderer | undefined): Promise<void> {
  await recorder.close();
  renderer?.close?.();
  if (recorder.error) process.stderr.write(`ribo: warning: the build log in ${recorder.dir} is incomplete: ${recorder.error.message}\n`);
}

/** A failed step's error, told where its whole output is kept. */
function pointToLog(error: unknown, recorder: BuildLogRecorder, rootFlag: string | undefined): unknown {
  if (recorder.failedStep !== undefined && diskFullCause(error)) return asDiskFull(error, `the files of build step #${recorder.failedStep}`, path.dirname(path.dirname(recorder.dir)));
  if (!(error instanceof RiboError) || recorder.failedStep === undefined) return error;
  const quoted = rootFlag && /^[\w./@%+=:,-]+$/.test(rootFlag) ? rootFlag : `'${rootFlag?.replace(/'/g, `'\\''`)}'`;
  const root = rootFlag === undefined ? '' : ` --root ${quoted}`;
  return new BuildFailedError(`${error.message} The step's whole output: \`ribo${root} build-log ${recorder.id} ${recorder.failedStep}\`.`, error);
}

export const buildCommand: CommandModule = {
  name: 'build',
  usage: 'build <context>',
  describe: 'Build an image from a Dockerfile',
  // Enters the namespace itself, and only when a step has to run.
  needsNamespace: false,
  builder: (y) =>
    withRegistryOptions(y)
      .positional('context', { type: 'string', describe: 'Build context directory, or - for none (the Dockerfile is then read from stdin)' })
      .option('tag', { array: true, alias: 't', type: 'string', describe: 'Name and optional tag (NAME[:TAG]); may be repeated' })
      .option('file', { alias: 'f', type: 'string', describe: 'Dockerfile (default: CONTEXT/Dockerfile); - reads it from stdin' })
      .option('build-arg', { array: true, type: 'string', describe: 'Set a build-time variable (NAME=VALUE)' })
      .option('target', { type: 'string', describe: 'Build this stage and the ones it needs' })
      .option('cache', { type: 'boolean', default: true, describe: 'Reuse unchanged steps of earlier builds (--no-cache runs every step)' })
      .option('explain', { type: 'boolean', default: false, describe: 'Say for each step that is not reused which of its inputs changed' })
      .option('jobs', { type: 'number', default: os.cpus().length, describe: 'Stages built at the same time at most' })
      .option('iidfile', { type: 'string', describe: 'Write the image id (the config digest, as docker) to this file' })
      .option('label', { array: true, type: 'string', describe: 'Set a label on the image (KEY=VALUE); may be repeated' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the image id' })
      .option('progress', { type: 'string', default: 'auto', describe: 'Progress on stderr: auto, tty (a live view), plain (lines for logs and CI) or json (one event per line)' })
      .option('network', { type: 'string', default: 'default', describe: 'Network of RUN steps that do not set --network: default (the host\'s), host or none' })
      .option('secret', { array: true, type: 'string', describe: 'A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VARIABLE; may be repeated' })
      .option('ulimit', { array: true, type: 'string', describe: 'A process limit of RUN steps, NAME=SOFT[:HARD] (as ribo run --ulimit); may be repeated' })
      .option('shm-size', { type: 'string', describe: 'Size of /dev/shm in RUN steps, e.g. 256m (default 64m)' })
      .option('add-host', { array: true, type: 'string', describe: 'Add NAME:IP (or NAME:host-gateway) to /etc/hosts of RUN steps; may be repeated' })
      .option('ssh', { array: true, type: 'string', describe: 'An SSH agent for RUN --mount=type=ssh: default (SSH_AUTH_SOCK\'s) or ID[=SOCKET]; may be repeated' })
      .option('cache-from', { array: true, type: 'string', describe: 'Take cached steps from a directory, type=local,src=DIR (or a path), a registry, type=registry,ref=REF, or an image built with --cache-to type=inline (its name); may be repeated' })
      .option('cache-to', { type: 'string', describe: 'Write this build\'s cache to a directory, type=local,dest=DIR (or just DIR), a registry, type=registry,ref=REF, or into the image, type=inline' })
      .option('output', { alias: 'o', type: 'string', describe: 'Also write the image: type=oci,dest=FILE | type=docker,dest=FILE | type=local,dest=DIR' })
      .option('platform', { array: true, type: 'string', describe: 'Platform(s) to build for, OS/ARCH[/VARIANT][,...]; several make an image index (default: this machine\'s)' })
      .option('compression', compressionOption)
      .option('print', { type: 'boolean', default: false, describe: 'Print the resolved build plan as JSON instead of building' })
      .option('pull', { type: 'boolean', default: false, describe: 'Always look in the registry for a newer version of the images the build starts from' })
      .option('no-cache-filter', { array: true, type: 'string', describe: 'Rebuild these stages without the cache: STAGE[,STAGE]; may be repeated' })
      // Docker's classic builder removed intermediate containers only on request; BuildKit (and ribo) always do.
      .option('rm', { type: 'boolean', default: true, describe: 'Accepted, as BuildKit does: build containers are always removed' })
      .option('force-rm', { type: 'boolean', default: false, describe: 'Accepted, as BuildKit does: build containers are always removed' }),
  handler: async (argv, env) => {
    if (argv._.length > 1) throw new UsageError(`ribo build takes exactly one build context directory (got also: ${argv._.slice(1).join(' ')}); e.g. ribo build -t app .`);
    const platforms = parseBuildPlatforms(argv.platform);
    if (platforms.length > 1 && argv.cacheTo !== undefined) throw new UsageError(`--cache-to with several platforms is not supported yet; build one platform at a time to export its cache.`);
    // stdin reaches the process inside the namespace untouched: that one reads it (no cached attempt out here).
    const context = contextArgument(argv.context, hideBin(process.argv));
    if (readsStdin(context, argv.file) && !insideNamespace(env) && !argv.print) return reexecInNamespace(process.argv.slice(1), env);
    const { contextDir, dockerfile, dockerfileText } = await resolveBuildInput(context, argv.file, process.stdin);
    const tags = asList(argv.tag).map((t) => normalizeImageRef(t));
    const buildArgs = parseBuildArgs(asList(argv.buildArg), env);
    if (argv.print) {
      const parsed = dockerfileText !== undefined ? parseDockerfile(dockerfileText, dockerfile) : await loadDockerfile(dockerfile);
      process.stdout.write(`${resolvedBuildJSON(parsed, { buildArgs, target: argv.target as string | undefined })}\n`);
      return 0;
    }
    const cacheFrom = asList(argv.cacheFrom).map((v) => cacheOption('--cache-from', v, 'src'));
    const cacheTo = argv.cacheTo === undefined ? undefined : cacheOption('--cache-to', String(argv.cacheTo), 'dest');
    const options = buildOptions(argv, env, { contextDir, dockerfile, dockerfileText, tags, buildArgs, cacheFrom, cacheTo });
    const quiet = Boolean(argv.quiet);
    const progressMode = resolveProgressMode(parseProgressMode(String(argv.progress)), process.stderr, env);
    const renderer = quiet ? undefined : createRenderer(progressMode, process.stderr);
    const registries = openRegistries(argv, env);
    const hooks = () =>
      registryHooks(
        registries,
        cacheFrom.flatMap((c) => ('registryRef' in c ? [c.registryRef] : [])),
        cacheTo && 'registryRef' in cacheTo ? cacheTo.registryRef : undefined,
        renderer,
      );
    const buildId = newBuildId();
    const reporterWith = (recorder: BuildLogRecorder): BuildReporter => withBuildId(teeReporter(...(renderer ? [renderer] : []), recorder), buildId);
    const output = argv.output === undefined ? undefined : parseOutput(String(argv.output));
    if (output) await checkBuildOutput(output);
    let result: PlatformBuildResult | undefined;
    let store: Store | undefined;
    try {
      if (!insideNamespace(env) && options.useCache) {
        // Most builds in a Makefile loop change nothing: try to serve them from the
        // cache without entering the namespace (no mounts needed, one process fewer).
        const progress = new BufferedReporter();
        store = await openStore(argv as GlobalOptions, env);
        let failure: unknown;
        try {
          result = await buildForPlatforms({ ...options, store, ...outsideNamespace, reporter: progress, cachedOnly: true, ...hooks() }, platforms);
        } catch (error) {
          // A step that must run: the build starts over inside the namespace, with its own log.
          if (!(error instanceof NeedsNamespaceError)) failure = error;
        }
        if (result || failure) {
          const recorder = await new BuildLogs(store.root).record(buildId);
          progress.replay(reporterWith(recorder));
          await closeLog(recorder, renderer);
          if (failure) throw pointToLog(failure, recorder, (argv as GlobalOptions).root);
        }
      }
      if (!result) {
        if (!insideNamespace(env)) {
          registries.close();
          return await reexecInNamespace(process.argv.slice(1), env);
        }
        const session = await openSession(argv as GlobalOptions, env);
        store = session.store;
        await checkRlimitsAllowed(options.rlimits, session.namespace.rootless);
        const recorder = await new BuildLogs(session.store.root).record(buildId);
        try {
          result = await buildForPlatforms({ ...options, store: session.store, driver: session.driver, runtime: session.runtime, idCount: session.namespace.idCount, reporter: reporterWith(recorder), ...hooks() }, platforms);
        } catch (error) {
          throw pointToLog(error, recorder, (argv as GlobalOptions).root);
        } finally {
          await closeLog(recorder, renderer);
          await session.close();
        }
      }
    } finally {
      renderer?.close?.();
      registries.close();
    }
    const imageId = await finishBuild(store!, result.manifest, tags, output, argv.iidfile === undefined ? undefined : String(argv.iidfile));
    process.stdout.write(`${imageId}\n`);
    return 0;
  },
};

/** The build's options from the command line, its context and Dockerfile resolved already. */
function buildOptions(
  argv: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  input: Awaited<ReturnType<typeof resolveBuildInput>> & { tags: string[]; buildArgs: Record<string, string>; cacheFrom: CacheOption[]; cacheTo?: CacheOption },
) {
  const { cacheFrom, cacheTo, buildArgs } = input;
  return {
    contextDir: input.contextDir,
    dockerfile: input.dockerfile,
    dockerfileText: input.dockerfileText,
    tags: input.tags,
    buildArgs,
    target: argv.target as string | undefined,
    epoch: sourceDateEpoch(env),
    useCache: argv.cache !== false,
    explain: Boolean(argv.explain),
    jobs: Number(argv.jobs),
    labels: parseLabels(asList(argv.label as string | string[] | undefined)),
    network: parseBuildNetwork(argv.network as string | undefined),
    secrets: parseSecrets(asList(argv.secret as string | string[] | undefined), env),
    sshAgents: parseSshAgents(asList(argv.ssh as string | string[] | undefined), env),
    rlimits: parseUlimits(asList(argv.ulimit as string | string[] | undefined)),
    shmSize: parseShmSize(argv.shmSize === undefined ? undefined : String(argv.shmSize)),
    addHosts: parseAddHosts(asList(argv.addHost as string | string[] | undefined)),
    processEnv: env,
    cacheFrom: cacheFrom.flatMap((c) => ('dir' in c ? [c.dir] : [])),
    cacheTo: cacheTo && 'dir' in cacheTo ? cacheTo.dir : undefined,
    compression: asCompression(argv.compression),
    pull: Boolean(argv.pull),
    cacheFromImages: cacheFrom.flatMap((c) => ('imageRef' in c ? [c.imageRef] : [])),
    // BuildKit's two spellings of inline cache.
    inlineCache: (cacheTo !== undefined && 'inline' in cacheTo) || ['1', 'true'].includes(buildArgs.BUILDKIT_INLINE_CACHE ?? ''),
    noCacheStages: asList(argv.noCacheFilter as string | string[] | undefined).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean),
  };
}

/** After the build: --output, the untagged image kept listed, --iidfile; returns the image id docker prints. */
async function finishBuild(store: Store, manifest: Descriptor, tags: string[], output: BuildOutput | undefined, iidfile: string | undefined): Promise<string> {
  if (output) await writeBuildOutput(store, manifest.digest, tags, output);
  // Listed as <none> until tagged or pruned, as docker lists an image built without -t.
  if (tags.length === 0) await store.keepUntagged(manifest);
  // The image id as docker prints it: the config digest (`ribo images` IMAGE ID, `inspect .Id`).
  const imageId = await imageIdOf(store, manifest);
  if (iidfile) {
    await writeFile(iidfile, imageId).catch((error: Error) => {
      throw new RiboError(`The image was built and tagged, but --iidfile ${iidfile} could not be written (${error.message}); choose a file in a directory you can write to.`);
    });
  }
  return imageId;
}
