/** What a build is given and gives back: the options every part of the build engine reads, apart from the engine itself. */
import type { Rlimit } from '../runtime/rlimits.js';
import type { Descriptor, ImageConfig } from '../oci/image.js';
import type { Platform } from '../dockerfile/index.js';
import type { Compression } from '../layer/index.js';
import type { Snapshotter } from '../snapshot/index.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import type { Store } from '../store/index.js';
import type { CacheExport, CacheImport } from './cache/build-cache.js';
import type { SharedBuildWork } from './shared-work.js';
import type { SecretSource } from './run-mounts.js';
import type { BuildReporter } from './progress/events.js';

export interface BuildOptions {
  store: Store;
  /** Makes the stage's layers into root file systems (the session's storage driver). */
  driver: Snapshotter;
  runtime: OciRuntime;
  /** Ids usable in ribo's namespace (container user namespaces map that many). */
  idCount: number;
  /** The build context; undefined when there is none (`ribo build -`: the Dockerfile came from stdin). */
  contextDir?: string;
  /** The Dockerfile's path, or its name in messages when `dockerfileText` is given. */
  dockerfile: string;
  /** The Dockerfile itself when it was not read from a file (stdin). */
  dockerfileText?: string;
  tags: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  /** Receives the build's progress events, the output of RUN steps included. */
  reporter: BuildReporter;
  /** Seconds since 1970 used for every timestamp the build writes (history, config, clamped file times). */
  epoch: number;
  /** Reuse earlier results of unchanged steps (false: --no-cache). */
  useCache?: boolean;
  /** Say for every rebuilt step which input changed. */
  explain?: boolean;
  /** Stages built at the same time at most. */
  jobs?: number;
  /**
   * Outside ribo's namespace nothing can be mounted or run: the build then only
   * succeeds when every step is in the cache, and throws NeedsNamespaceError at
   * the first that is not, so the caller can build inside the namespace instead.
   */
  cachedOnly?: boolean;
  /** Labels set on the image (--label), after the Dockerfile's own. */
  labels?: Record<string, string>;
  /** Directories to take cached steps from (--cache-from type=local). */
  cacheFrom?: string[];
  /** The network of RUN steps that do not choose one (--network; default host). */
  network?: 'host' | 'none';
  /** Secrets RUN --mount=type=secret can use (--secret), by id. */
  secrets?: ReadonlyMap<string, SecretSource>;
  /** --ulimit: the process limits of RUN steps (part of their cache keys when given). */
  rlimits?: Rlimit[];
  /** --shm-size: /dev/shm's size in RUN steps, in bytes (part of their cache keys when given). */
  shmSize?: number;
  /** --add-host: more /etc/hosts entries of RUN steps (part of their cache keys when given). */
  addHosts?: Array<{ name: string; ip: string }>;
  /** SSH agents RUN --mount=type=ssh can use (--ssh): their sockets, by id. */
  sshAgents?: ReadonlyMap<string, string>;
  /** Where secrets given as env= are read from (default: process.env). */
  processEnv?: NodeJS.ProcessEnv;
  /** Directory to write this build's steps and layers to (--cache-to type=local). */
  cacheTo?: string;
  /** Other places to take cached steps from and write them to (--cache-from/--cache-to type=registry). */
  cacheImports?: CacheImport[];
  cacheExports?: CacheExport[];
  /** Fetches an image that is not in the store (FROM / COPY --from of a registry image) for a platform; resolves to its manifest digest. */
  pullImage?: (ref: string, store: Store, platform: Platform) => Promise<string>;
  /** --pull: look in the registry for a newer version of every image the build starts from. */
  pull?: boolean;
  /** --no-cache-filter: stages (by name or index) whose steps all run again. */
  noCacheStages?: string[];
  /** --cache-from IMAGE: images whose inline cache (image-cache.ts) this build may reuse steps of. */
  cacheFromImages?: string[];
  /** --cache-to type=inline: write the steps' keys into the image's config. */
  inlineCache?: boolean;
  /** The platform to build for (--platform); default this machine's. */
  platform?: Platform;
  /** Set by a multi-platform build: what its per-platform builds share. */
  shared?: SharedBuildWork;
  /** Compression of the layers this build writes (default gzip); part of each layer step's cache key. */
  compression?: Compression;
}

/** A cached-only build met a step it would have to carry out. */
export class NeedsNamespaceError extends Error {}

export interface BuildResult {
  manifest: Descriptor;
  config: ImageConfig;
  tags: string[];
}
