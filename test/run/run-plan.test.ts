/**
 * The command lines a run plan serves: bin/run-plan.sh (shell, before Node
 * starts) and plainRun (Node, which decides whether to write a plan)
 * must accept exactly the same ones, or a plan would be written that is
 * never used, or used for a command line it does not describe.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { plainRun, runPlanPath, writeRunPlan, type RunPlanInputs } from '../../src/run/run-plan.js';
import { kernelOverlayMount } from '../../src/snapshot/mount.js';
import { SYSTEM_SECCOMP_PROFILES } from '../../src/runtime/seccomp.js';
import { networkHook } from '../../src/runtime/network.js';
import { newContainerId, shortId, type ContainerRecord } from '../../src/run/containers.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = path.join(PROJECT_ROOT, 'bin/run-plan.sh');

/** What the shell's parser makes of `args`: "IMAGE RUNTIME|ENV ITEMS|WORKDIR|NAME|BIND|NETWORK", or undefined. */
async function shellParse(args: string[], env: Record<string, string> = {}): Promise<string | undefined> {
  const script = '. "$0"; parse_plain_run "$@" && plan_env= && apply_env_flags && printf "%s %s|%s|%s|%s|%s|%s" "$_image" "$_runtime" "$j_env" "$_workdir" "$_name" "$_bind" "$_network"';
  const result = await execa('sh', ['-c', script, SCRIPT, ...args], { reject: false, env: { PATH: process.env.PATH!, ...env }, extendEnv: false });
  return result.exitCode === 0 ? result.stdout : undefined;
}

function nodeParse(args: string[], env: Record<string, string> = {}): string | undefined {
  const plain = plainRun(args, env);
  if (!plain) return undefined;
  // As Node's run applies -e: each name once, where it first came, with its last value.
  const items = [...new Map(plain.env.map((entry) => [entry.split('=')[0], entry])).values()].map((entry) => JSON.stringify(entry)).join(',');
  const bind = plain.bind ? `{"destination": "${plain.bind.destination}", "type": "bind", "source": "${plain.bind.source}", "options": ["rbind", "${plain.bind.mode}"]}` : '';
  return `${plain.image} ${plain.runtime}|${items}|${plain.workdir ?? ''}|${plain.name ?? ''}|${bind}|${plain.network ?? ''}`;
}

const CASES: Array<[string, string[], Record<string, string>?]> = [
  ['plain', ['run', '--rm', 'hello']],
  ['with a command', ['run', '--rm', 'hello', 'sh', '-c', 'echo $HOME > /x; exit 3']],
  ['with --root', ['--root', '/tmp/s', 'run', '--rm', 'localhost/debian:bookworm', 'true']],
  ['with --root=', ['--root=/tmp/s', 'run', '--rm', 'hello@sha256:0123abcd', 'true']],
  ['command words that look like flags', ['run', '--rm', 'hello', 'ls', '-la', '--color=never']],
  ['non-ASCII words', ['run', '--rm', 'hello', 'echo', 'grüße, 世界']],
  ['no --rm', ['run', 'hello', 'true']],
  ['-e', ['run', '--rm', '-e', 'A=1', 'hello', 'true']],
  ['--name after --rm', ['run', '--rm', '--name', 'x', 'hello']],
  ['flags before --rm', ['run', '-e', 'A=1', '-w', '/tmp', '--name', 'n1', '--rm', 'hello', 'true']],
  ['--env, --workdir, -e twice', ['run', '--rm', '--env', 'B=x y', '-e', 'A=1', '--workdir', '/srv/app', '-e', 'B=$HOME', 'hello']],
  ['-e with an empty value', ['run', '--rm', '-e', 'A=', 'hello']],
  ['-e NAME alone', ['run', '--rm', '-e', 'A', 'hello']],
  ['-e with a quote', ['run', '--rm', '-e', 'A="1"', 'hello']],
  ['-e with a bad name', ['run', '--rm', '-e', 'A-B=1', 'hello']],
  ['-e= form', ['run', '--rm', '--env=A=1', 'hello']],
  ['-w relative', ['run', '--rm', '-w', 'tmp', 'hello']],
  ['-w with a space', ['run', '--rm', '-w', '/a b', 'hello']],
  ['-w twice', ['run', '--rm', '-w', '/a', '-w', '/b', 'hello']],
  ['--name twice', ['run', '--rm', '--name', 'a', '--name', 'b', 'hello']],
  ['--name invalid', ['run', '--rm', '--name', '_x', 'hello']],
  ['-e as a command word', ['run', '--rm', 'hello', '-e']],
  ['--rm twice', ['run', '--rm', '--rm', 'hello']],
  ['-v', ['run', '--rm', '-v', '/srv/data:/data', 'hello']],
  ['--volume :ro', ['run', '--rm', '--volume', '/srv/.data:/mnt/x:ro', 'hello']],
  ['-v :rw with flags', ['run', '--rm', '-e', 'A=1', '-v', '/a:/b:rw', '--name', 'n', 'hello']],
  ['-v twice', ['run', '--rm', '-v', '/a:/b', '-v', '/c:/d', 'hello']],
  ['-v a volume name', ['run', '--rm', '-v', 'data:/data', 'hello']],
  ['-v anonymous', ['run', '--rm', '-v', '/data', 'hello']],
  ['-v relative', ['run', '--rm', '-v', './data:/data', 'hello']],
  ['-v with ..', ['run', '--rm', '-v', '/srv/../etc:/data', 'hello']],
  ['-v with a trailing /', ['run', '--rm', '-v', '/srv/:/data', 'hello']],
  ['-v onto /', ['run', '--rm', '-v', '/srv:/', 'hello']],
  ['-v onto /etc/hosts', ['run', '--rm', '-v', '/srv/hosts:/etc/hosts', 'hello']],
  ['-v :U', ['run', '--rm', '-v', '/srv:/data:U', 'hello']],
  ['-v :ro,z', ['run', '--rm', '-v', '/srv:/data:ro,z', 'hello']],
  ['-v with an empty mode', ['run', '--rm', '-v', '/srv:/data:', 'hello']],
  ['--network host', ['run', '--rm', '--network', 'host', 'hello', 'true']],
  ['--network=none with -e', ['run', '--network=none', '--rm', '-e', 'A=1', 'hello']],
  ['--network twice', ['run', '--rm', '--network', 'host', '--network', 'none', 'hello']],
  ['--network pasta', ['run', '--rm', '--network', 'pasta', 'hello']],
  ['--network=bridge', ['run', '--rm', '--network=bridge', 'hello']],
  ['--network a named network', ['run', '--rm', '--network', 'net1', 'hello']],
  ['--network without a value', ['run', '--rm', '--network']],
  ['another flag', ['run', '--rm', '-u', 'root', 'hello', 'true']],
  ['-d', ['run', '--rm', '-d', 'hello']],
  ['--rm after the image', ['run', 'hello', '--rm']],
  ['no image', ['run', '--rm']],
  ['--runtime runc', ['--runtime', 'runc', 'run', '--rm', 'hello']],
  ['--runtime=crun and --root', ['--runtime=crun', '--root', '/s', 'run', '--rm', 'hello']],
  ['an unknown runtime', ['--runtime', 'kata', 'run', '--rm', 'hello']],
  ['another global option', ['--storage-driver', 'copy', 'run', '--rm', 'hello']],
  ['another command', ['build', '--rm', 'hello']],
  ['a quote in a word', ['run', '--rm', 'hello', 'echo', 'say "hi"']],
  ['a backslash in a word', ['run', '--rm', 'hello', 'echo', 'a\\b']],
  ['a newline in a word', ['run', '--rm', 'hello', 'echo', 'a\nb']],
  ['a tab in a word', ['run', '--rm', 'hello', 'echo', 'a\tb']],
  ['-- before the command', ['run', '--rm', 'hello', '--', 'true']],
  ['an oci: reference', ['run', '--rm', 'oci:/tmp/layout', 'true']],
  ['an oci-archive: reference', ['run', '--rm', 'oci-archive:img.tar', 'true']],
  ['an image with ..', ['run', '--rm', '../../etc/passwd', 'true']],
  ['an image with odd characters', ['run', '--rm', 'hel lo', 'true']],
  ['RIBO_RUNTIME=runc', ['run', '--rm', 'hello'], { RIBO_RUNTIME: 'runc' }],
  ['RIBO_RUNTIME=runc under --runtime crun', ['--runtime', 'crun', 'run', '--rm', 'hello'], { RIBO_RUNTIME: 'runc' }],
  ['RIBO_RUNTIME unknown', ['run', '--rm', 'hello'], { RIBO_RUNTIME: 'youki' }],
  ['RIBO_STORAGE_DRIVER set', ['run', '--rm', 'hello'], { RIBO_STORAGE_DRIVER: 'copy' }],
];

describe('command lines a run plan serves', () => {
  it.each(CASES)('shell and Node agree: %s', async (_what, args, env = {}) => {
    expect(await shellParse(args, env)).toBe(nodeParse(args, env));
  });

  it('serves the plain forms and no other', () => {
    const served = CASES.filter(([, args, env]) => nodeParse(args, env) !== undefined).map(([what, args, env]) => `${what}: ${nodeParse(args, env)}`);
    expect(served).toEqual([
      'plain: hello crun|||||',
      'with a command: hello crun|||||',
      'with --root: localhost/debian:bookworm crun|||||',
      'with --root=: hello@sha256:0123abcd crun|||||',
      'command words that look like flags: hello crun|||||',
      'non-ASCII words: hello crun|||||',
      '-e: hello crun|"A=1"||||',
      '--name after --rm: hello crun|||x||',
      'flags before --rm: hello crun|"A=1"|/tmp|n1||',
      '--env, --workdir, -e twice: hello crun|"B=$HOME","A=1"|/srv/app|||',
      '-e with an empty value: hello crun|"A="||||',
      '-e as a command word: hello crun|||||',
      '-v: hello crun||||{"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "rw"]}|',
      '--volume :ro: hello crun||||{"destination": "/mnt/x", "type": "bind", "source": "/srv/.data", "options": ["rbind", "ro"]}|',
      '-v :rw with flags: hello crun|"A=1"||n|{"destination": "/b", "type": "bind", "source": "/a", "options": ["rbind", "rw"]}|',
      '--network host: hello crun|||||host',
      '--network=none with -e: hello crun|"A=1"||||none',
      '--runtime runc: hello runc|||||',
      '--runtime=crun and --root: hello crun|||||',
      'RIBO_RUNTIME=runc: hello runc|||||',
      'RIBO_RUNTIME=runc under --runtime crun: hello crun|||||',
    ]);
  });
});

describe('writeRunPlan', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'ribo-plan-'));
    await execa('sh', ['-c', `printf '{}' > '${root}/index.json'`]);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const layer = (n: number) => path.join(root, 'layers', String(n).repeat(64));
  const inputs = async (): Promise<RunPlanInputs> => ({
    storeRoot: root,
    image: 'localhost/app:1',
    namespaceMode: 'rootless',
    idCount: 65536,
    // What the kernel overlay snapshotter describes for a container dir.
    mount: kernelOverlayMount(
      { lowers: [layer(2), layer(1)], upper: path.join(root, 'containers/c1/upper'), work: path.join(root, 'containers/c1/work'), target: path.join(root, 'containers/c1/rootfs') },
      { userXattr: true, emptyDir: path.join(root, 'empty') },
    ),
    containerDir: path.join(root, 'containers/c1'),
    hideUnified: 'mount',
    runtime: { name: 'crun', binary: '/usr/bin/crun', stateDir: path.join(root, 'run/crun'), globalArgs: ['--root', path.join(root, 'run/crun'), '--cgroup-manager=disabled'], finishConfig: async (config) => ({ ...config, annotations: { ...config.annotations, 'run.oci.seccomp_bpf_data': 'AAAAAAAAAAA=' } }) },
    entrypoint: ['/bin/sh', '-c'],
    defaultArgs: ['/bin/sh', '-c', "echo 'it''s' \"quoted\""],
    bundleSpec: { args: ['x'], env: ['PATH=/bin', "QUOTE=it's"], cwd: '/app', uid: 1000, gid: 1000, rootfs: '/r', network: 'host', idCount: 65536 },
    record: { id: 'a'.repeat(64), name: 'brave_badger1', image: 'localhost/app:1', imageDigest: 'sha256:' + 'b'.repeat(64), created: 'then', command: ['x'], autoRemove: true, detached: false, driver: 'overlay', runtime: 'crun', runtimeId: 'ribo-aaaaaaaaaaaa', plan: { lowers: [layer(2), layer(1)], spec: { args: ['x'], env: ['PATH=/bin'], cwd: '/app', network: 'host', idCount: 65536 } }, status: 'created', monitor: { pid: 1, start: 2 } } satisfies ContainerRecord,
    indexMtimeMs: (await import('node:fs')).statSync(path.join(root, 'index.json')).mtimeMs,
  });

  /** Sources the plan in sh with the per-run variables set, and prints config.json and the record. */
  async function render(file: string): Promise<{ config: Record<string, any>; record: Record<string, any>; variables: Record<string, string> }> {
    const script = `. "$0"; j_id='"ID64"' j_name='"calm_crane7"' j_args='"echo","it'"'"'s"' j_runtime_id='"ribo-ID"' j_monitor_pid=123 j_monitor_start=456 j_hostname='"ID12"' j_rootfs='"/x/rootfs"' j_pid='{"pid": 789, "start": 1011}' j_env=$(printf '%s\\n' "$plan_env" | paste -sd, -) j_record_env=$(printf '%s\\n' "$plan_env" | paste -sd, -) j_cwd=$plan_cwd j_aliases= j_bind= j_record_mounts= j_ns_user='"/proc/4242/ns/user"' j_ns_net='"/proc/4242/ns/net"'
      write_config > "$1/config.json"; write_record > "$1/record.json"; printf '%s\\n' "$plan_mount_options" "$plan_default_args" "$plan_entrypoint" "$plan_runtime_options" "$plan_mount_cwd" "$plan_mount_dirs"`;
    const { stdout } = await execa('sh', ['-c', script, file, root]);
    const [mountOptions, defaultArgs, entrypoint, runtimeOptions, mountCwd, mountDirs] = stdout.split('\n');
    return {
      config: JSON.parse(await readFile(path.join(root, 'config.json'), 'utf8')),
      record: JSON.parse(await readFile(path.join(root, 'record.json'), 'utf8')),
      variables: { mountOptions: mountOptions!, mountCwd: mountCwd!, mountDirs: mountDirs!, defaultArgs: defaultArgs!, entrypoint: entrypoint!, runtimeOptions: runtimeOptions! },
    };
  }

  it('writes shell that prints the config and record of a new run', async () => {
    expect(await writeRunPlan(await inputs())).toBe(true);
    const { config, record, variables } = await render(runPlanPath(root, 'crun', 'localhost/app:1'));
    expect(config.process.args).toEqual(['echo', "it's"]);
    expect(config.process.env).toEqual(['PATH=/bin', "QUOTE=it's"]);
    expect(config.process.user).toEqual({ uid: 1000, gid: 1000, umask: 0o022 });
    expect(config.hostname).toBe('ID12');
    expect(config.root.path).toBe('/x/rootfs');
    // What the runtime adds to a config (crun's compiled seccomp filter) is in the plan's.
    expect(config.annotations['run.oci.seccomp_bpf_data']).toBe('AAAAAAAAAAA=');
    expect(record).toMatchObject({ id: 'ID64', name: 'calm_crane7', created: null, startedAt: null, command: ['echo', "it's"], runtimeId: 'ribo-ID', status: 'running', monitor: { pid: 123, start: 456 }, pid: { pid: 789, start: 1011 }, autoRemove: true });
    expect(record.plan.spec.args).toEqual(['echo', "it's"]);
    // The environment and working dir come from the shell (the plan's, or -e and -w applied); no aliases without --name.
    expect(record.plan.spec.env).toEqual(['PATH=/bin', "QUOTE=it's"]);
    expect(record.plan.spec.cwd).toBe('/app');
    expect(config.process.cwd).toBe('/app');
    expect(record.plan.spec).not.toHaveProperty('aliases');
    expect(record.plan.spec.mounts).toEqual([]);
    // The mount as data: lower dirs relative to layers/, the container dir left for the shell to fill in.
    expect(variables.mountOptions).toBe(`lowerdir=${'2'.repeat(64)}:${'1'.repeat(64)},upperdir=@DIR@/upper,workdir=@DIR@/work,userxattr`);
    expect(variables.mountCwd).toBe(path.join(root, 'layers'));
    expect(variables.mountDirs).toBe('upper work rootfs');
    expect(JSON.parse(`[${variables.defaultArgs}]`)).toEqual(['/bin/sh', '-c', "echo 'it''s' \"quoted\""]);
    expect(JSON.parse(`[${variables.entrypoint}]`)).toEqual(['/bin/sh', '-c']);
    expect(variables.runtimeOptions).toBe(`--root ${root}/run/crun --cgroup-manager=disabled`);
  });

  it('keeps the plan of a --network host or none run apart from the default network plan, and only for a run on that network', async () => {
    const base = await inputs();
    expect(await writeRunPlan({ ...base, network: 'host' })).toBe(true);
    expect(runPlanPath(root, 'crun', 'localhost/app:1', 'host')).toBe(path.join(root, 'run-plans/crun-host/localhost/app:1.plan'));
    const { config } = await render(runPlanPath(root, 'crun', 'localhost/app:1', 'host'));
    expect(config.linux.namespaces.map((ns: { type: string }) => ns.type)).not.toContain('network');
    await expect(readFile(runPlanPath(root, 'crun', 'localhost/app:1'))).rejects.toThrow();
    // A spec on another network than the flag named: no plan.
    expect(await writeRunPlan({ ...base, network: 'none' })).toBe(false);
    await expect(readFile(runPlanPath(root, 'crun', 'localhost/app:1', 'none'))).rejects.toThrow();
  });

  /** The plan inputs of a run on a user-mode network, as a run through Node leaves them. */
  const userModeInputs = async (network: 'pasta' | 'slirp4netns') => {
    const base = await inputs();
    const bundleDir = path.join(root, 'containers/c1', 'bundle');
    return { ...base, bundleSpec: { ...base.bundleSpec, network, networkHook: networkHook(bundleDir) }, record: { ...base.record, plan: { ...base.record.plan, spec: { ...base.record.plan.spec, network } } } };
  };

  /** Writes the crun plan of `planInputs` and checks that its config joins the namespaces the shell makes (at /proc/4242 in render). */
  const crunJoinsMadeNamespaces = async (planInputs: Awaited<ReturnType<typeof userModeInputs>>) => {
    expect(await writeRunPlan(planInputs)).toBe(true);
    const { config } = await render(runPlanPath(root, 'crun', 'localhost/app:1'));
    const namespaces = config.linux.namespaces as Array<{ type: string; path?: string }>;
    expect(namespaces.find((ns) => ns.type === 'user')).toEqual({ type: 'user', path: '/proc/4242/ns/user' });
    expect(namespaces.find((ns) => ns.type === 'network')).toEqual({ type: 'network', path: '/proc/4242/ns/net' });
    return { config, namespaces };
  };

  /** runc makes its namespaces itself, through the hook, as through Node. */
  const runcMakesItsNamespaces = async (planInputs: Awaited<ReturnType<typeof userModeInputs>>) => {
    expect(await writeRunPlan({ ...planInputs, runtime: { ...planInputs.runtime, name: 'runc', binary: '/usr/bin/runc' } })).toBe(true);
    const runc = await render(runPlanPath(root, 'runc', 'localhost/app:1'));
    expect(runc.config.linux.namespaces).toEqual(expect.arrayContaining([{ type: 'user' }, { type: 'network' }]));
    expect(runc.config.hooks.createRuntime[0].args).toContain('ribo-network-hook');
  };

  it('on pasta, has crun join the namespaces the shell makes, whose id maps it writes, with a hook that only waits for pasta', async () => {
    const pasta = await userModeInputs('pasta');
    const { config, namespaces } = await crunJoinsMadeNamespaces(pasta);
    expect(namespaces.filter((ns) => ns.path === undefined).map((ns) => ns.type).sort()).toEqual(['ipc', 'mount', 'pid', 'uts']);
    expect(config.linux.uidMappings).toBeUndefined();
    // The hook waits on the new run's FIFO; the namespaces are no longer the hook's to bind.
    expect(config.hooks.createRuntime).toHaveLength(1);
    const [hook] = config.hooks.createRuntime;
    // The new run's dir ($dir, unset here) before it.
    expect(hook.args.at(-1)).toBe('/bundle/net/ready.fifo');
    // The hook reads all of the state (more than a small pipe holds), then succeeds on `ok` alone.
    const fifo = path.join(root, 'ready.fifo');
    const answerHook = async (answer: string) => {
      await execa('mkfifo', [fifo]);
      try {
        const state = JSON.stringify({ ociVersion: '1.0.2', id: 'c1', pid: 4242, annotations: { filter: 'ok\n'.repeat(4000), ok: 'ok' } }, null, 2);
        const run = execa(hook.path, [...hook.args.slice(1, -1), fifo], { input: state, reject: false });
        await writeFile(fifo, `${answer}\n`);
        return (await run).exitCode;
      } finally {
        await rm(fifo, { force: true });
      }
    };
    expect(await answerHook('ok')).toBe(0);
    expect(await answerHook('fail')).not.toBe(0);
    const { stdout } = await execa('sh', ['-c', '. "$0"; printf "%s|%s|%s" "$plan_namespaces_made" "$plan_uid_map" "$plan_gid_map"', runPlanPath(root, 'crun', 'localhost/app:1')]);
    // Root on its own line, as identityMappings gives them.
    expect(stdout).toBe('1|0 0 1\n1 1 65535|0 0 1\n1 1 65535');
    await runcMakesItsNamespaces(pasta);
  });

  it('on slirp4netns, has crun join the namespaces the shell makes, with no network hook (the shell waits for slirp4netns), and keeps the hook for runc', async () => {
    const slirp = await userModeInputs('slirp4netns');
    const { config } = await crunJoinsMadeNamespaces(slirp);
    expect(config.hooks.createRuntime).toEqual([]);
    const { stdout } = await execa('sh', ['-c', '. "$0"; printf "%s|%s|%s|%s|%s" "$plan_network" "$plan_namespaces_made" "$plan_slirp_options" "$plan_slirp_interface" "$plan_pasta_options"', runPlanPath(root, 'crun', 'localhost/app:1')]);
    expect(stdout).toBe('slirp4netns|1|--configure --mtu=65520|eth0|');
    await runcMakesItsNamespaces(slirp);
  });

  it('writes nothing when a tag changed since the image was resolved', async () => {
    const stale = await inputs();
    stale.indexMtimeMs -= 1000;
    expect(await writeRunPlan(stale)).toBe(false);
    await expect(readFile(runPlanPath(root, 'crun', 'localhost/app:1'))).rejects.toThrow();
  });

  it('writes nothing for runs a plan cannot repeat', async () => {
    const base = await inputs();
    expect(await writeRunPlan({ ...base, bundleSpec: { ...base.bundleSpec, terminal: true } })).toBe(false);
    expect(await writeRunPlan({ ...base, bundleSpec: { ...base.bundleSpec, init: '/usr/bin/tini-static' } })).toBe(false);
    expect(await writeRunPlan({ ...base, storeRoot: `${root} with space` })).toBe(false);
    expect(await writeRunPlan({ ...base, mount: { ...base.mount, lowers: ['/elsewhere/' + '1'.repeat(64)] } })).toBe(false);
    expect(await writeRunPlan({ ...base, containerDir: path.join(root, 'elsewhere') })).toBe(false);
    expect(await writeRunPlan({ ...base, bundleSpec: { ...base.bundleSpec, seccomp: 'unconfined' } })).toBe(false);
  });

  it("marks an older store's containers/ and runtime state dir as top dirs (files/spread-dirs.ts)", async () => {
    const lsattr = async (dir: string) => (await execa('lsattr', ['-d', dir], { reject: false })).stdout.split(' ')[0];
    await execa('mkdir', ['-p', path.join(root, 'containers'), path.join(root, 'run/crun')]);
    const before = await lsattr(path.join(root, 'containers'));
    if (!before) return; // a file system without attributes (tmpfs): nothing to mark
    expect(before).not.toContain('T');
    expect(await writeRunPlan(await inputs())).toBe(true);
    expect(await lsattr(path.join(root, 'containers'))).toContain('T');
    expect(await lsattr(path.join(root, 'run/crun'))).toContain('T');
  });

  it('names the seccomp profile it holds, which the shell compares with the one a run would take now', async () => {
    expect(await writeRunPlan(await inputs())).toBe(true);
    const { stdout } = await execa('sh', ['-c', '. "$0"; printf %s "$plan_seccomp"', runPlanPath(root, 'crun', 'localhost/app:1')]);
    const installed = SYSTEM_SECCOMP_PROFILES.find((file) => existsSync(file));
    expect(stdout).toBe(installed ?? 'ribo');
    // bin/run-plan.sh looks for podman's profiles in the same places, in the same order.
    const shell = await readFile(path.join(PROJECT_ROOT, 'bin/run-plan.sh'), 'utf8');
    const tested = [...shell.matchAll(/if \[ -e (\S+) \]|elif \[ -e (\S+) \]/g)].map((m) => m[1] ?? m[2]);
    expect(tested).toEqual(SYSTEM_SECCOMP_PROFILES);
  });
});

describe('container ids', () => {
  // About one short id in 280 is all decimal digits; drawn unguarded, a few thousand would hold some.
  const allDigits = (short: string) => /^[0-9]{12}$/.test(short);

  it('Node never gives a short id (the host name) of decimal digits only', () => {
    const shorts = Array.from({ length: 5000 }, () => shortId(newContainerId()));
    expect(shorts.every((s) => /^[0-9a-f]{12}$/.test(s))).toBe(true);
    expect(shorts.filter(allDigits)).toEqual([]);
  });

  it('nor does the planned run, whose id is 64 hex digits starting with its short id', async () => {
    const script = '. "$0"; i=0; while [ $i -lt 4000 ]; do new_container_id; echo "$short $id"; i=$((i + 1)); done';
    const lines = (await execa('sh', ['-c', script, SCRIPT])).stdout.split('\n');
    expect(lines).toHaveLength(4000);
    for (const line of lines) expect(line).toMatch(/^([0-9a-f]{12}) \1[0-9a-f]{52}$/);
    expect(lines.map((l) => l.slice(0, 12)).filter(allDigits)).toEqual([]);
  });
});

describe("the planned run's record environment", () => {
  /** j_env and j_record_env for `ribo run --rm FLAGS hello` over a plan whose start gave HOSTNAME and HOME=/root. */
  async function envs(flags: string[]): Promise<[string, string]> {
    const script = '. "$0"; short=abc123def456 plan_env_hostname=1 plan_env_home=\'"HOME=/root"\'; plan_env=$(printf \'%s\\n\' \'"PATH=/bin"\' \'"HOME=/root"\'); parse_plain_run "$@" && apply_env_flags && printf "%s\\n%s" "$j_env" "$j_record_env"';
    const { stdout } = await execa('sh', ['-c', script, SCRIPT, 'run', '--rm', ...flags, 'hello'], { env: { PATH: process.env.PATH! }, extendEnv: false });
    return stdout.split('\n') as [string, string];
  }

  it('leaves out what the start added, as Node records it (exec -u sets its own HOME from it)', async () => {
    expect(await envs([])).toEqual(['"HOSTNAME=abc123def456","PATH=/bin","HOME=/root"', '"PATH=/bin"']);
    expect(await envs(['-e', 'A=1'])).toEqual(['"HOSTNAME=abc123def456","PATH=/bin","HOME=/root","A=1"', '"PATH=/bin","A=1"']);
  });

  it('keeps HOME and HOSTNAME that -e gave, even with the value the start would have given', async () => {
    expect(await envs(['-e', 'HOME=/root'])).toEqual(['"HOSTNAME=abc123def456","PATH=/bin","HOME=/root"', '"PATH=/bin","HOME=/root"']);
    expect(await envs(['-e', 'HOME=/x', '-e', 'HOSTNAME=h'])).toEqual(['"PATH=/bin","HOME=/x","HOSTNAME=h"', '"PATH=/bin","HOME=/x","HOSTNAME=h"']);
  });
});
