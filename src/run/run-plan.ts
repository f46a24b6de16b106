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
import { isUserModeNetwork, pastaOptions } from '../runtime/network.js';
import { hostsFile, resolvConf } from '../runtime/network-files.js';
import { bundleConfig, type ContainerSpec } from '../runtime/bundle.js';
import { defaultSeccompProfilePath } from '../runtime/seccomp.js';
import type { MountSpec } from '../snapshot/index.js';
import { NAME_ADJECTIVES, NAME_NOUNS, type ContainerRecord } from './containers.js';
import { writeFileAtomic } from '../files/atomic-write.js';

/** Bumped when bin/run-plan.sh and the plans stop fitting each other. */
export const RUN_PLAN_FORMAT = 4;

/** Image names the planned run accepts (the shell matches the same set). */
const PLAIN_IMAGE = /^[a-zA-Z0-9._/:@-]+$/;
/** Command words the shell can put in JSON as they are: no quote, backslash or control character. */
// eslint-disable-next-line no-control-regex
const JSON_UNSAFE = /["\\\u0000-\u001f\u007f]/;
/** Store roots whose paths can stand unquoted in JSON, in overlay's options and in shell words. */
const PLAIN_PATH = /^\/[a-zA-Z0-9._/+@%=~-]*$/;

/** What a plain `run --rm` command line names. */
export interface PlainRun {
  image: string;
  runtime: 'crun' | 'runc';
}

/**
 * The image and runtime of a command line bin/run-plan.sh would carry out:
 * `[--root DIR] [--runtime crun|runc] run --rm IMAGE [COMMAND...]` and
 * nothing else, with no storage driver chosen by the environment. Undefined
 * otherwise. Must agree with parse_plain_run in bin/run-plan.sh
 * (test/run/run-plan.test.ts checks both on the same command lines).
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
  if (args[i] !== 'run' || args[i + 1] !== '--rm') return undefined;
  const image = args[i + 2];
  if (image === undefined || image.startsWith('-') || image.includes('..') || !PLAIN_IMAGE.test(image)) return undefined;
  // Images run straight from a layout or archive are not the store's: their files may change unseen.
  if (image.startsWith('oci:') || image.startsWith('oci-archive:')) return undefined;
  const command = args.slice(i + 3);
  if (command[0] === '--' || command.some((word) => JSON_UNSAFE.test(word))) return undefined;
  if (env['RIBO_STORAGE_DRIVER']) return undefined;
  return { image, runtime };
}

export function runPlanPath(storeRoot: string, runtime: string, image: string): string {
  return path.join(storeRoot, 'run-plans', runtime, `${image}.plan`);
}

export interface RunPlanInputs {
  storeRoot: string;
  /** The image as the user named it. */
  image: string;
  /** RIBO_IN_NAMESPACE of the run: '1' (root) or 'rootless'. */
  namespaceMode: string;
  idCount: number;
  /** The run's root file system mount, as the snapshotter made it. */
  mount: MountSpec;
  /** The run's container dir: where it appears in the mount, each planned run puts its own. */
  containerDir: string;
  /** How the run hid the unified cgroup hierarchy from crun, if it had to. */
  hideUnified?: 'mount' | 'umount';
  runtime: { name: string; binary: string; stateDir: string; globalArgs: string[] };
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
  NOW: 'j_now',
  ARGS: 'j_args',
  RUNTIME_ID: 'j_runtime_id',
  MONITOR_PID: 'j_monitor_pid',
  MONITOR_START: 'j_monitor_start',
  /** The container's process as JSON: null until the runtime's pid file names it. */
  PID: 'j_pid',
  HOSTNAME: 'j_hostname',
  ROOTFS: 'j_rootfs',
} as const;
type Marker = keyof typeof MARKERS;

const marker = (name: Marker) => `@@RIBO:${name}@@`;
/** Stands for the container dir inside the config's strings; the shell writes its $dir there. */
const DIR_TEXT_MARKER = '@@RIBODIR@@';
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
  // bin/run-plan.sh sets up pasta (as runtime/network.ts does) but not slirp4netns, published ports or other /etc entries.
  const spec = inputs.bundleSpec;
  if (spec.network === 'slirp4netns' || spec.ports?.length || spec.dns?.length || spec.addHosts?.length || spec.aliases?.length) return false;
  if (isUserModeNetwork(spec.network) !== Boolean(spec.networkHook)) return false;
  // The shell checks that the default profile it would take now (podman's, if installed) is the one the plan holds.
  if ((spec.seccomp ?? 'default') !== 'default') return false;
  const seccompProfile = await defaultSeccompProfilePath();

  const config = await bundleConfig({ ...inputs.bundleSpec, args: [marker('ARGS')], hostname: marker('HOSTNAME'), rootfs: marker('ROOTFS') });
  // The run's container dir, where it stands in the config (the /etc files, the network hook), becomes the new run's.
  const configText = JSON.stringify(config, null, 2).split(inputs.containerDir).join(DIR_TEXT_MARKER);
  const hosts = (await hostsFile({ network: spec.network, hostname: HOST_MARKER })).split(HOST_MARKER);
  if (hosts.length !== 2) return false;
  const { exitCode: _exitCode, finishedAt: _finishedAt, error: _error, ...kept } = inputs.record;
  // A template of the record: the monitor's and the container's pid and start time are markers until the shell fills them in.
  const record: Omit<ContainerRecord, 'monitor' | 'pid'> & { monitor: { pid: string; start: string }; pid: string } = {
    ...kept,
    id: marker('ID'),
    name: marker('NAME'),
    created: marker('NOW'),
    command: [marker('ARGS')],
    runtimeId: marker('RUNTIME_ID'),
    status: 'running',
    monitor: { pid: marker('MONITOR_PID'), start: marker('MONITOR_START') },
    pid: marker('PID'),
    startedAt: marker('NOW'),
    plan: { ...kept.plan, spec: { ...kept.plan.spec, args: [marker('ARGS')] } },
  };
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
    plan_network: isUserModeNetwork(spec.network) ? spec.network : '',
    plan_pasta_options: spec.network === 'pasta' ? pastaOptions([]).join(' ') : '',
    plan_hosts_head: hosts[0]!,
    plan_hosts_tail: hosts[1]!,
    plan_resolv: await resolvConf(spec.network, undefined),
    plan_seccomp: typeof seccompProfile === 'string' ? seccompProfile : 'ribo',
    plan_adjectives: NAME_ADJECTIVES.join(' '),
    plan_nouns: NAME_NOUNS.join(' '),
  };
  const text = [
    `# ribo run plan for ${inputs.image.replace(/\n/g, ' ')}: written by ribo (src/run/run-plan.ts), read by bin/run-plan.sh.`,
    ...Object.entries(variables).map(([name, value]) => `${name}=${shellQuote(value)}`),
    shellTemplate('write_config', configText),
    shellTemplate('write_record', `${JSON.stringify(record, null, 2)}\n`),
  ].join('\n');

  const file = runPlanPath(storeRoot, runtime.name, inputs.image);
  const indexFile = path.join(storeRoot, 'index.json');
  const indexMtime = async () => (await stat(indexFile)).mtimeMs;
  if ((await indexMtime()) !== inputs.indexMtimeMs) return false;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, text, { mode: 0o600 });
  // A tag written meanwhile: the plan may describe the image the tag named before.
  if ((await indexMtime()) !== inputs.indexMtimeMs) {
    await rm(file, { force: true });
    return false;
  }
  return true;
}
