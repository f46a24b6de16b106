import os from 'node:os';
import { rm } from 'node:fs/promises';
import { Store, resolveStoreRoot } from '../store/index.js';
import { currentNamespace, insideNamespace, type NamespaceInfo } from '../runtime/namespace.js';
import { selectSnapshotter, type Snapshotter } from '../snapshot/index.js';
import { OciRuntime, runtimeStateDir } from '../runtime/oci-runtime.js';
import { detectCgroupMode, hideUnifiedHierarchy, type CgroupMode } from '../runtime/cgroups.js';
import { bindReadOnlyOverItself } from '../runtime/runtime-binary.js';

export interface GlobalOptions {
  root?: string;
  runtime?: string;
  storageDriver?: string;
}

/** Everything a command inside ribo's namespace works with; passed down, never global. */
export interface Session {
  store: Store;
  namespace: NamespaceInfo;
  /** The snapshotter of the storage driver asked for, or of the first that works. */
  driver: Snapshotter;
  runtime: OciRuntime;
  /** The host's cgroup mode, as found before ribo changed its own view of it. */
  cgroupMode: CgroupMode;
  close(): Promise<void>;
}

export function storeRoot(opts: GlobalOptions, env: NodeJS.ProcessEnv): string {
  return resolveStoreRoot({ flag: opts.root, env, home: env.HOME ?? os.homedir() });
}

/**
 * Whether this process can unpack layers as they would be mounted (files
 * owned by the image's ids): inside ribo's namespace, or as root.
 */
export function canUnpackLayers(env: NodeJS.ProcessEnv): boolean {
  return insideNamespace(env) || process.getuid?.() === 0;
}

export async function openStore(opts: GlobalOptions, env: NodeJS.ProcessEnv): Promise<Store> {
  return Store.open(storeRoot(opts, env));
}

/** Opens the store and picks the snapshotter and OCI runtime (inside the namespace). */
export async function openSession(opts: GlobalOptions, env: NodeJS.ProcessEnv): Promise<Session> {
  const store = await openStore(opts, env);
  const namespace = await currentNamespace(env);
  const scratch = await store.makeTempDir('session-');
  const driver = await selectSnapshotter({
    requested: opts.storageDriver ?? env.RIBO_STORAGE_DRIVER,
    scratchDir: scratch,
    rootless: namespace.rootless,
    warn: (message) => process.stderr.write(`ribo: warning: ${message}\n`),
  });
  const runtimeName = opts.runtime ?? env.RIBO_RUNTIME;
  const cgroupMode = await detectCgroupMode();
  const runtime = await OciRuntime.select({
    requested: runtimeName,
    stateDir: runtimeStateDir(store.root, runtimeName ?? 'crun'),
    rootless: namespace.rootless,
    prepareHost: (runtimeName ?? 'crun') === 'crun' ? async (binary) => void (await Promise.all([hideUnifiedHierarchy(namespace.rootless), bindReadOnlyOverItself(binary)])) : undefined,
  });
  return { store, namespace, driver, runtime, cgroupMode, close: () => rm(scratch, { recursive: true, force: true }) };
}
