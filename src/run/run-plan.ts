/**
 * Run plans: what a plain `ribo run --rm IMAGE [COMMAND...]` worked out for
 * an image, kept so the next such run can be carried out by bin/run-plan.sh
 * without starting Node (see the comment at its top). A plan is shell: a few
 * variables and two functions that print the bundle's config.json and the
 * container's record, with the parts that differ per run (id, name, times,
 * command, the monitor's pid) left as shell variables, and the root file
 * system's mount as data (the snapshotter's MountSpec, with the container dir
 * left to fill in), which the shell replays with one `mount` call.
 *
 * A plan is only written when nothing in it can differ between two plain
 * runs of the same image, and the shell checks that it still holds before
 * using it: not older than the store's index.json (tags) or this ribo, its
 * layers still unpacked, the same id mappings. Otherwise it is ignored, and
 * Node does the run as always.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { isNetworkHook, isUserModeNetwork, networkReadyHook, pastaOptions, SLIRP_INTERFACE, slirpOptions } from '../runtime/network.js';
import { hostsFile, resolvConf } from '../runtime/network-files.js';
import { bundleConfig, type ContainerSpec } from '../runtime/bundle.js';
import { defaultSeccompProfilePath } from '../runtime/seccomp.js';
import type { MountSpec } from '../snapshot/index.js';
import type { IdMapping, RuntimeSpec } from '../oci/runtime-spec.js';
import { NAME_ADJECTIVES, NAME_NOUNS, type ContainerRecord } from './containers.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { markTopDir } from '../files/spread-dirs.js';
import { planBusybox } from './run-plan-busybox.js';

/** Bumped when bin/run-plan.sh and the plans stop fitting each other. */
export const RUN_PLAN_FORMAT = 10;

/** Image names the planned run accepts (the shell matches the same set). */
const PLAIN_IMAGE = /^[a-zA-Z0-9._/:@-]+$/;
/** Command words the shell can put in JSON as they are: no quote, backslash or control character. */
// eslint-disable-next-line no-control-regex
const JSON_UNSAFE = /["\\\u0000-\u001f\u007f]/;
/** Store roots whose paths can stand unquoted in JSON, in overlay's options and in shell words. */
const PLAIN_PATH = /^\/[a-zA-Z0-9._/+@%=~-]*$/;

/** What a planned `run --rm` command line names. */
export interface PlainRun {
  image: string;
  runtime: 'crun' | 'runc';
  /** -e/--env NAME=VALUE, in order. */
  env: string[];
  /** -w/--workdir. */
  workdir?: string;
  /** --name. */
  name?: string;
  /** -v/--volume HOST:CONTAINER[:ro|rw], one bind of a host path. */
  bind?: { source: string; destination: string; mode: 'ro' | 'rw' };
  /** --network host or none: a plan of its own (runPlanPath); without it, the default network. */
  network?: PlainNetwork;
}

/** The --network values a plan serves besides the default (slirp4netns or pasta): neither needs a helper. */
export type PlainNetwork = 'host' | 'none';

/** An absolute path as Node's path.resolve leaves it (no empty, `.` or `..` component, no trailing /), of plain characters; not / itself. */
function normalPlainPath(text: string): boolean {
  return PLAIN_PATH.test(text) && text.slice(1).split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The files a run's /etc gets from ribo (runtime/network-files.ts): a bind over one goes through Node. */
const NETWORK_FILES = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);

/** `-v HOST:CONTAINER[:ro|rw]` as a plan takes it: two normal absolute paths, no other option; else undefined. */
function plainBind(value: string): PlainRun['bind'] {
  const [source, destination, mode = 'rw', ...rest] = value.split(':');
  if (rest.length > 0 || source === undefined || destination === undefined || (mode !== 'ro' && mode !== 'rw')) return undefined;
  if (!normalPlainPath(source) || !normalPlainPath(destination) || NETWORK_FILES.has(destination)) return undefined;
  return { source, destination, mode };
}

/** -e values a plan takes: NAME=VALUE (no copying from ribo's own environment), the value as it can stand in JSON. */
const PLAIN_ENV = /^[A-Za-z_][A-Za-z0-9_]*=[^"\\\u0000-\u001f\u007f]*$/;
/** The container names Node accepts (containers.ts). */
const PLAIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * The image, runtime and flags of a command line bin/run-plan.sh would carry
 * out: `[--root DIR] [--runtime crun|runc] run FLAGS IMAGE [COMMAND...]`,
 * FLAGS being `--rm` and any of `-e`/`--env NAME=VALUE`, `-w`/`--workdir
 * /PATH`, `--name NAME`, `-v`/`--volume /HOST:/CONTAINER[:ro|rw]` and
 * `--network host|none` (also `--network=host|none`), each other value its
 * own word (-w, --name, -v and --network once),
 * with no storage driver chosen by the environment. Undefined otherwise. Must
 * agree with parse_plain_run in bin/run-plan.sh (test/run/run-plan.test.ts
 * checks both on the same command lines).
 */
export function plainRun(args: readonly string[], env: NodeJS.ProcessEnv): PlainRun | undefined {
  let runtime: string | undefined;
  let i = 0;
  for (; i < args.length && args[i] !== 'run'; i++) {
    const word = args[i]!;
    if ((word === '--root' || word === '--runtime') && i + 1 < args.length) {
      if (word === '--runtime') runtime = args[i + 1];
      i++;
    } else if (word.startsWith('--runtime=')) runtime = word.slice('--runtime='.length);
    else if (!word.startsWith('--root=')) return undefined;
  }
  runtime = runtime || env['RIBO_RUNTIME'] || 'crun';
  if (runtime !== 'crun' && runtime !== 'runc') return undefined;
  if (args[i] !== 'run') return undefined;
  const flags: { rm: boolean; env: string[]; workdir?: string; name?: string; bind?: PlainRun['bind']; network?: PlainNetwork } = { rm: false, env: [] };
  const plainNetwork = (value: string | undefined): value is PlainNetwork => value === 'host' || value === 'none';
  for (i += 1; i < args.length && args[i]!.startsWith('-'); i++) {
    const word = args[i]!;
    const value = args[i + 1];
    const inline = word.startsWith('--network=') ? word.slice('--network='.length) : undefined;
    if (word === '--rm' && !flags.rm) flags.rm = true;
    else if (inline !== undefined && flags.network === undefined && plainNetwork(inline)) flags.network = inline;
    else if (word === '--network' && flags.network === undefined && plainNetwork(value)) flags.network = value;
    else if ((word === '-e' || word === '--env') && value !== undefined && PLAIN_ENV.test(value)) flags.env.push(value);
    else if ((word === '-w' || word === '--workdir') && flags.workdir === undefined && value !== undefined && PLAIN_PATH.test(value)) flags.workdir = value;
    else if (word === '--name' && flags.name === undefined && value !== undefined && PLAIN_NAME.test(value)) flags.name = value;
    // One bind only: Node orders several by depth (run/volumes.ts).
    else if ((word === '-v' || word === '--volume') && flags.bind === undefined && value !== undefined && plainBind(value)) flags.bind = plainBind(value);
    else return undefined;
    if (word !== '--rm' && inline === undefined) i++;
  }
  if (!flags.rm) return undefined;
  const image = args[i];
  if (image === undefined || image.startsWith('-') || image.includes('..') || !PLAIN_IMAGE.test(image)) return undefined;
  // Images run straight from a layout or archive are not the store's: their files may change unseen.
  if (image.startsWith('oci:') || image.startsWith('oci-archive:')) return undefined;
  const command = args.slice(i + 1);
  if (command[0] === '--' || command.some((word) => JSON_UNSAFE.test(word))) return undefined;
  if (env['RIBO_STORAGE_DRIVER']) return undefined;
  return { image, runtime, env: flags.env, ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}), ...(flags.name !== undefined ? { name: flags.name } : {}), ...(flags.bind ? { bind: flags.bind } : {}), ...(flags.network ? { network: flags.network } : {}) };
}

/** Whether a planned command line has flags beyond --rm and --network (a plan is written only from runs without them). */
export function hasRunFlags(plain: PlainRun): boolean {
  return plain.env.length > 0 || plain.workdir !== undefined || plain.name !== undefined || plain.bind !== undefined;
}

/** Where the plan of an image lives: one per runtime, and per --network host|none (the default network's has none in its path). */
export function runPlanPath(storeRoot: string, runtime: string, image: string, network?: PlainNetwork): string {
  return path.join(storeRoot, 'run-plans', network ? `${runtime}-${network}` : runtime, `${image}.plan`);
}

export interface RunPlanInputs {
  storeRoot: string;
  /** The image as the user named it. */
  image: string;
  /** The run's --network host|none, if it had one: the plan serves runs with the same. */
  network?: PlainNetwork;
  /** RIBO_IN_NAMESPACE of the run: '1' (root) or 'rootless'. */
  namespaceMode: string;
  idCount: number;
  /** The run's root file system mount, as the snapshotter made it. */
  mount: MountSpec;
  /** The run's container dir: where it appears in the mount, each planned run puts its own. */
  containerDir: string;
  /** How the run hid the unified cgroup hierarchy from crun, if it had to. */
  hideUnified?: 'mount' | 'umount';
  /** The runtime, and what it adds to a config (OciRuntime.finishConfig: crun's compiled seccomp filter). */
  runtime: { name: string; binary: string; stateDir: string; globalArgs: string[]; finishConfig: (config: RuntimeSpec) => Promise<RuntimeSpec> };
  /** The image's ENTRYPOINT, put before a command given on the command line. */
  entrypoint: string[];
  /** What runs when no command is given: ENTRYPOINT + CMD. */
  defaultArgs: string[];
  /** The spec the run's bundle was written from. */
  bundleSpec: ContainerSpec;
  /** The run's container record as it was while the container ran. */
  record: ContainerRecord;
  /** index.json's mtime when the image was resolved: a tag changed since makes the plan stale at once. */
  indexMtimeMs: number;
}

/** The shell variable each marker stands for (bin/run-plan.sh sets them, as JSON). */
const MARKERS = {
  ID: 'j_id',
  NAME: 'j_name',
  ARGS: 'j_args',
  RUNTIME_ID: 'j_runtime_id',
  MONITOR_PID: 'j_monitor_pid',
  MONITOR_START: 'j_monitor_start',
  /** The container's process as JSON: null until the runtime's pid file names it. */
  PID: 'j_pid',
  HOSTNAME: 'j_hostname',
  ROOTFS: 'j_rootfs',
  /** The container's environment: the image's with -e applied, JSON items. */
  ENV: 'j_env',
  /** The record's: the same without what the start adds (HOSTNAME, HOME), as Node records it (exec -u reads it). */
  RECORD_ENV: 'j_record_env',
  /** Its working dir (-w, else the image's), a JSON string. */
  CWD: 'j_cwd',
  /** Stands for a whole `"aliases": [NAME],` of the record's spec, empty without --name. */
  ALIASES: 'j_aliases',
  /** The -v bind as a config mount, after a comma; empty without -v. */
  BIND: 'j_bind',
  /** The record's mounts: the -v bind, or nothing. */
  RECORD_MOUNTS: 'j_record_mounts',
  /** Where the shell made the container's user and network namespaces (crun on pasta), JSON strings. */
  NS_USER: 'j_ns_user',
  NS_NET: 'j_ns_net',
} as const;
type Marker = keyof typeof MARKERS;

const marker = (name: Marker) => `@@RIBO:${name}@@`;
/** Stands for the container dir inside the config's strings; the shell writes its $dir there. */
const DIR_TEXT_MARKER = '@@RIBODIR@@';
/** The record's key that stands for its aliases field (see MARKERS.ALIASES). */
const ALIASES_FIELD = '@@RIBOFIELD:ALIASES@@';
/** Stands for the host name in plan_hosts_head/tail's /etc/hosts. */
const HOST_MARKER = '@@RIBOHOST@@';

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A shell function printing `json`, each quoted marker replaced by its variable's value. */
function shellTemplate(name: string, json: string): string {
  // Split on whole quoted markers: even parts are JSON text, odd parts marker names.
  const parts = json.split(/"@@RIBO:([A-Z_]+)@@"/);
  const words = parts.map((part, i) => {
    if (i % 2 === 1) {
      const variable = MARKERS[part as Marker];
      if (!variable) throw new Error(`unknown run plan marker ${part}`);
      return `"$${variable}"`;
    }
    if (part.includes('@@RIBO:')) throw new Error('a run plan marker stands inside a longer string');
    // The container dir may stand inside strings: the shell's $dir goes there.
    return part.split(DIR_TEXT_MARKER).map(shellQuote).join(' "$dir" ');
  });
  return `${name}() {\n  printf '%s' ${words.join(' ')}\n}\n`;
}

const jsonItems = (words: string[]) => words.map((word) => JSON.stringify(word)).join(',');

/**
 * A crun config on a user-mode network as bin/run-plan.sh runs it: the shell
 * makes the user and network namespaces before crun starts and the helper
 * configures them meanwhile, instead of crun making them and the helper
 * starting from its hook. pasta takes about 30 ms to be ready, so crun sets
 * up the container meanwhile and its hook only waits for pasta;
 * slirp4netns is ready in a few ms, so the shell waits for it before crun
 * starts and the config has no network hook (a process less in crun). The
 * id mappings, which the shell writes, are returned as /proc/PID/uid_map text.
 */
function namespacesMadeBefore(config: RuntimeSpec, bundleDir: string, network: 'pasta' | 'slirp4netns'): { config: RuntimeSpec; uidMap: string; gidMap: string } {
  const linux = config.linux ?? {};
  const mapText = (mappings: IdMapping[] | undefined) => (mappings ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join('\n');
  const namespaces = (linux.namespaces ?? []).map((ns) => (ns.type === 'user' ? { ...ns, path: marker('NS_USER') } : ns.type === 'network' ? { ...ns, path: marker('NS_NET') } : ns));
  const { uidMappings, gidMappings, ...rest } = linux;
  const hooks = config.hooks?.createRuntime ?? [];
  const createRuntime = network === 'pasta' ? hooks.map((hook) => (isNetworkHook(hook) ? networkReadyHook(bundleDir) : hook)) : hooks.filter((hook) => !isNetworkHook(hook));
  return { config: { ...config, linux: { ...rest, namespaces }, hooks: { ...config.hooks, createRuntime } }, uidMap: mapText(uidMappings), gidMap: mapText(gidMappings) };
}

/** The variables of the run's user-mode network helper, which bin/run-plan.sh starts as runtime/network.ts does. */
function networkVariables(network: string): Record<string, string> {
  return {
    plan_network: isUserModeNetwork(network) ? network : '',
    plan_pasta_options: network === 'pasta' ? pastaOptions([]).join(' ') : '',
    plan_slirp_options: network === 'slirp4netns' ? slirpOptions().join(' ') : '',
    plan_slirp_interface: network === 'slirp4netns' ? SLIRP_INTERFACE : '',
  };
}

/** Stands for the container dir in plan_mount_options; bin/run-plan.sh puts the new container's there. */
const DIR_MARKER = '@DIR@';

/**
 * The mount as plan variables, with the container dir as DIR_MARKER; undefined
 * when a shell could not replay it as it is.
 */
function mountVariables(mount: MountSpec, containerDir: string, layersDir: string): Record<string, string> | undefined {
  const inDir = (p: string) => (path.dirname(p) === containerDir ? path.basename(p) : undefined);
  const [upper, work, target] = [inDir(mount.upper), inDir(mount.work), inDir(mount.target)];
  if (!upper || !work || !target || !PLAIN_PATH.test(containerDir)) return undefined;
  if (mount.lowers.length === 0 || mount.lowers.some((dir) => path.dirname(dir) !== layersDir || !/^[0-9a-f]{64}$/.test(path.basename(dir)))) return undefined;
  if (mount.cwd !== undefined && !PLAIN_PATH.test(mount.cwd)) return undefined;
  const options = mount.options.join(',');
  if (options.includes(DIR_MARKER)) return undefined;
  return {
    plan_mount_type: mount.type,
    plan_mount_source: mount.source,
    plan_mount_options: options.split(containerDir).join(DIR_MARKER),
    plan_mount_cwd: mount.cwd ?? '/',
    plan_mount_dirs: [upper, work, target].join(' '),
    plan_mount_target: target,
    plan_layer_dirs: mount.lowers.join(' '),
  };
}

/**
 * Writes the plan for `inputs.image`, or nothing when the run had something a
 * plan cannot repeat. Returns whether a plan was written. A plan is an
 * optimisation only: its caller ignores failures.
 */
export async function writeRunPlan(inputs: RunPlanInputs): Promise<boolean> {
  const { storeRoot, runtime } = inputs;
  if (!PLAIN_PATH.test(storeRoot) || !PLAIN_PATH.test(runtime.binary) || runtime.globalArgs.some((arg) => !/^[a-zA-Z0-9._/+@%=~-]+$/.test(arg))) return false;
  const mount = mountVariables(inputs.mount, inputs.containerDir, path.join(storeRoot, 'layers'));
  if (!mount) return false;
  if (inputs.bundleSpec.terminal || inputs.bundleSpec.init) return false;
  // bin/run-plan.sh sets up slirp4netns and pasta (as runtime/network.ts does) but not published ports or other /etc entries.
  const spec = inputs.bundleSpec;
  if (spec.ports?.length || spec.dns?.length || spec.addHosts?.length || spec.aliases?.length) return false;
  // The environment and working dir are the run's (-e, -w): the plan holds the image's, the shell applies the flags.
  if (spec.env.some((entry) => JSON_UNSAFE.test(entry) || !entry.includes('=')) || JSON_UNSAFE.test(spec.cwd)) return false;
  if (isUserModeNetwork(spec.network) !== Boolean(spec.networkHook)) return false;
  if (inputs.network !== undefined && spec.network !== inputs.network) return false;
  // The shell checks that the default profile it would take now (podman's, if installed) is the one the plan holds.
  if ((spec.seccomp ?? 'default') !== 'default') return false;
  const seccompProfile = await defaultSeccompProfilePath();

  if (inputs.record.plan.spec.mounts?.length) return false;
  // A -v bind comes after the /etc files' mounts (runtime/container.ts): a marker last in the list stands for it, comma included.
  const mounts = [...(spec.mounts ?? []), marker('BIND') as unknown as NonNullable<ContainerSpec['mounts']>[number]];
  const finished = await runtime.finishConfig(await bundleConfig({ ...inputs.bundleSpec, args: [marker('ARGS')], env: [marker('ENV')], cwd: marker('CWD'), hostname: marker('HOSTNAME'), rootfs: marker('ROOTFS'), mounts }));
  // crun joins namespaces the shell made (runc is left to make its own, as through Node).
  const made = runtime.name === 'crun' && isUserModeNetwork(spec.network) ? namespacesMadeBefore(finished, path.join(inputs.containerDir, 'bundle'), spec.network) : undefined;
  const config = made?.config ?? finished;
  // The run's container dir, where it stands in the config (the /etc files, the network hook), becomes the new run's.
  const configText = JSON.stringify(config, null, 2).split(inputs.containerDir).join(DIR_TEXT_MARKER).replace(new RegExp(`,\\s*"${marker('BIND')}"`), `"${marker('BIND')}"`);
  if (!configText.includes(`"${marker('BIND')}"`)) return false;
  const hosts = (await hostsFile({ network: spec.network, hostname: HOST_MARKER })).split(HOST_MARKER);
  if (hosts.length !== 2) return false;
  // HOSTNAME, when the start added it (run/start-spec.ts), is each run's own: the shell puts it back first.
  const hostnameAtStart = !inputs.record.plan.spec.env.some((entry) => entry.startsWith('HOSTNAME='));
  const planEnv = hostnameAtStart ? spec.env.filter((entry) => entry !== `HOSTNAME=${spec.hostname}`) : spec.env;
  // HOME, when the start added it, stays in the process's environment but not in the record's.
  const homeAtStart = !inputs.record.plan.spec.env.some((entry) => entry.startsWith('HOME='));
  const startHome = homeAtStart ? [...spec.env].reverse().find((entry) => entry.startsWith('HOME=')) : undefined;
  const { exitCode: _exitCode, finishedAt: _finishedAt, error: _error, ...kept } = inputs.record;
  // A template of the record: the monitor's and the container's pid and start time are markers until the shell
  // fills them in. The times stay null: the container dir's birth time stands for them (ContainerStore's readers),
  // which saves the shell a `date` at each run.
  const record: Omit<ContainerRecord, 'monitor' | 'pid' | 'created' | 'startedAt'> & { monitor: { pid: string; start: string }; pid: string; created: null; startedAt: null } = {
    ...kept,
    id: marker('ID'),
    name: marker('NAME'),
    created: null,
    command: [marker('ARGS')],
    runtimeId: marker('RUNTIME_ID'),
    status: 'running',
    monitor: { pid: marker('MONITOR_PID'), start: marker('MONITOR_START') },
    pid: marker('PID'),
    startedAt: null,
    // The aliases field first, so that the text standing for it ends with its comma.
    plan: { ...kept.plan, spec: { [ALIASES_FIELD]: 0, ...kept.plan.spec, args: [marker('ARGS')], env: [marker('RECORD_ENV')], cwd: marker('CWD'), mounts: [marker('RECORD_MOUNTS')] } as unknown as typeof kept.plan.spec },
  };
  const recordText = `${JSON.stringify(record, null, 2)}\n`.replace(new RegExp(`"${ALIASES_FIELD}": 0,\\s*`), `"${marker('ALIASES')}"`);
  const variables: Record<string, string> = {
    plan_format: String(RUN_PLAN_FORMAT),
    plan_mode: inputs.namespaceMode,
    plan_root: storeRoot,
    plan_id_count: String(inputs.idCount),
    ...mount,
    plan_hide_unified: inputs.hideUnified ?? '',
    plan_runtime: runtime.binary,
    plan_runtime_name: runtime.name,
    plan_runtime_state: runtime.stateDir,
    plan_runtime_options: runtime.globalArgs.join(' '),
    plan_entrypoint: jsonItems(inputs.entrypoint),
    plan_default_args: jsonItems(inputs.defaultArgs),
    // One JSON string a line, so the shell can replace an entry -e names in place, as Node does.
    plan_env: planEnv.map((entry) => JSON.stringify(entry)).join('\n'),
    plan_env_hostname: hostnameAtStart ? '1' : '',
    plan_env_home: startHome ? JSON.stringify(startHome) : '',
    plan_cwd: JSON.stringify(spec.cwd),
    ...networkVariables(spec.network),
    plan_namespaces_made: made ? '1' : '',
    plan_uid_map: made?.uidMap ?? '',
    plan_gid_map: made?.gidMap ?? '',
    plan_hosts_head: hosts[0]!,
    plan_hosts_tail: hosts[1]!,
    plan_resolv: await resolvConf(spec.network, undefined),
    plan_seccomp: typeof seccompProfile === 'string' ? seccompProfile : 'ribo',
    plan_busybox: await planBusybox(),
    plan_adjectives: NAME_ADJECTIVES.join(' '),
    plan_nouns: NAME_NOUNS.join(' '),
  };
  const text = [
    `# ribo run plan for ${inputs.image.replace(/\n/g, ' ')}: written by ribo (src/run/run-plan.ts), read by bin/run-plan.sh.`,
    ...Object.entries(variables).map(([name, value]) => `${name}=${shellQuote(value)}`),
    shellTemplate('write_config', configText),
    shellTemplate('write_record', recordText),
  ].join('\n');

  if (!(await publishPlan(runPlanPath(storeRoot, runtime.name, inputs.image, inputs.network), text, storeRoot, inputs.indexMtimeMs))) return false;
  // Stores made before these dirs were marked where they are made (ContainerStore.create, OciRuntime.select).
  await markTopDir(path.dirname(inputs.containerDir), runtime.stateDir);
  return true;
}

/** Writes the plan unless a tag was written since the run resolved its image (the plan may describe the one it named before). */
async function publishPlan(file: string, text: string, storeRoot: string, indexMtimeMs: number): Promise<boolean> {
  const indexFile = path.join(storeRoot, 'index.json');
  const indexMtime = async () => (await stat(indexFile)).mtimeMs;
  if ((await indexMtime()) !== indexMtimeMs) return false;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, text, { mode: 0o600 });
  if ((await indexMtime()) !== indexMtimeMs) {
    await rm(file, { force: true });
    return false;
  }
  return true;
}
