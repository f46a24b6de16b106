/**
 * Planned runs (bin/run-plan.sh): after one plain `ribo run --rm IMAGE`
 * through Node, the next ones are carried out by the shell. A user must not
 * be able to tell them apart except by speed: same output, exit code,
 * environment, user and security; the container listed, stoppable and
 * reachable with exec while it runs; nothing left after; and a plan never
 * used once the image it describes has changed.
 */
import { execa } from 'execa';
import { readdir, readFile, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, PROJECT_ROOT, makeContext, makeStore, outputReaches, removeStore, ribo, riboOk, spawnRibo, type RiboOptions, until } from './harness.js';

const APP_DIR = process.env.RIBO_E2E_APP ?? PROJECT_ROOT;
let root: string;
let context: string;
const opts = (): RiboOptions => ({ root });
const planFile = (image: string, runtime = 'crun') => path.join(root, 'run-plans', runtime, `${image}.plan`);
const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);

/** Everything about a container a user could look at from inside it. */
const PROBE = [
  'sh', '-c',
  "id; pwd; env | grep -v ^HOSTNAME= | sort; hostname | wc -c; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; ls /dev; grep -c image-hosts-file /etc/hosts; ls /var/lib/hello; [ -t 1 ] && echo tty || echo no-tty; echo err >&2; exit 3",
];

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({
    Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY passwd group hosts /etc/\nCOPY . /app\nRUN mkdir -p /var/lib/hello && echo v1 > /var/lib/hello/version\nUSER app\nWORKDIR /app\nENV GREETING=hi\nCMD ["cat", "/var/lib/hello/version"]\n',
    passwd: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n',
    group: 'root:x:0:\napp:x:1000:\n',
    hosts: '127.0.0.1 image-hosts-file\n',
  }, 'hello');
  await riboOk(['build', '-t', 'plan-app', context], opts());
}, 300_000);

afterAll(async () => {
  const left = await ribo(['ps', '-a', '-q'], opts());
  for (const id of left.stdout.split('\n').filter(Boolean)) await ribo(['rm', '-f', id], opts());
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

/** The command name of the monitor of the running container `name` ("sh" for a planned run, "node" otherwise). */
async function monitorCommand(name: string): Promise<string> {
  const [info] = JSON.parse((await riboOk(['inspect', '--type', 'container', name], opts())).stdout) as Array<{ State: { MonitorPid: number } }>;
  return (await readFile(`/proc/${info!.State.MonitorPid}/comm`, 'utf8')).trim();
}

/** The name of the one running container, once there is one. */
async function runningName(): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const { stdout } = await riboOk(['ps'], opts());
    const line = stdout.split('\n').find((l) => l.includes(' Up '));
    if (line) return line.trim().split(/\s+/).at(-1)!;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no container came up');
}

describe('planned runs', () => {
  it('the first plain run writes a plan; later runs give the same output, exit code and environment', async () => {
    const first = await ribo(['run', '--rm', 'plan-app', ...PROBE], opts());
    expect(first.exitCode).toBe(3);
    expect((await stat(planFile('plan-app'))).isFile()).toBe(true);
    const second = await ribo(['run', '--rm', 'plan-app', ...PROBE], opts());
    expect(second).toEqual(first);
    expect(first.stdout).toContain('uid=1000(app) gid=1000(app)');
    expect(first.stdout).toContain('/app\nGREETING=hi\n');
    // a 12-digit host name, plus the newline
    expect(first.stdout).toContain('\n13\n');
    expect(first.stdout).toContain('Seccomp:\t2');
    expect(first.stdout).toContain('no-tty');
    expect(first.stderr).toBe('err');
    // The image's CMD without a command.
    expect(await riboOk(['run', '--rm', 'plan-app'], opts())).toMatchObject({ stdout: 'v1' });
    expect(await entries(path.join(root, 'containers'))).toEqual([]);
    // No container's state is left; crun's compiled seccomp filter is kept beside them (a dot-dir crun does not list).
    expect(await entries(path.join(root, 'run', 'crun'))).toEqual(['.ribo-seccomp']);
    // Planned runs load the filter the first run compiled: the plan's config carries it.
    const filterDir = path.join(root, 'run', 'crun', '.ribo-seccomp');
    const kept = await Promise.all((await entries(filterDir)).filter((entry) => entry.endsWith('.bpf')).map(async (entry) => (await readFile(path.join(filterDir, entry))).toString('base64')));
    const carried = /"run\.oci\.seccomp_bpf_data": "([^"]+)"/.exec(await readFile(planFile('plan-app'), 'utf8'))?.[1];
    expect(kept).toContain(carried);
  });

  it('a planned container is listed, reachable with exec, and stopped by ribo stop', async () => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const { child } = await spawnRibo(['run', '--rm', 'plan-app', 'sh', '-c', "trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done"], opts());
    // Its trap is set once it says ready (pid 1 ignores a signal it has no handler for).
    await outputReaches(child.stdout, 'ready');
    const name = await runningName();
    expect(await monitorCommand(name)).toBe('sh');
    expect((await riboOk(['exec', name, 'cat', '/var/lib/hello/version'], opts())).stdout).toBe('v1');
    // The record holds the environment the container was given, as the Node path records it: the start's HOME
    // and HOSTNAME are not in it, so exec -u takes the other user's HOME.
    expect((await riboOk(['exec', name, 'sh', '-c', 'echo $HOME'], opts())).stdout).toBe('/app');
    expect((await riboOk(['exec', '-u', 'root', name, 'sh', '-c', 'echo $HOME'], opts())).stdout).toBe('/root');
    const recorded = (await riboOk(['inspect', '-f', '{{json .Config.Env}}', name], opts())).stdout;
    expect(JSON.parse(recorded)).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hi']);
    await riboOk(['stop', '-t', '10', name], opts());
    const result = await child;
    expect(result.stdout).toBe('ready\ngot TERM');
    expect(result.exitCode).toBe(42);
    expect((await riboOk(['ps', '-a', '-q'], opts())).stdout).toBe('');
    expect(await entries(path.join(root, 'containers'))).toEqual([]);
  });

  it('cleans up after a planned run killed with SIGKILL: the next ps stops the container and removes it', async () => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const { child } = await spawnRibo(['run', '--rm', 'plan-app', 'sleep', '1000'], opts());
    const name = await runningName();
    // A planned run is recorded running before the runtime has written its pid, and that process execs sleep a moment after.
    const info = await until('the container\'s process to be known and run sleep', async () => {
      const [found] = JSON.parse((await riboOk(['inspect', '--type', 'container', name], opts())).stdout) as Array<{ State: { Pid: number; MonitorPid: number } }>;
      const command = found!.State.Pid > 0 ? (await readFile(`/proc/${found!.State.Pid}/cmdline`, 'utf8').catch(() => '')).split('\0')[0] : '';
      return command === 'sleep' && found;
    });
    process.kill(info.State.MonitorPid, 'SIGKILL');
    expect((await riboOk(['ps', '-a', '-q'], opts())).stdout).toBe('');
    // Only now: until the container is killed, it holds the output pipes of ribo's test process.
    await child;
    const gone = await readFile(`/proc/${info.State.Pid}/cmdline`, 'utf8').then((text) => !text.startsWith('sleep'), () => true);
    expect(gone).toBe(true);
    expect(await entries(path.join(root, 'containers'))).toEqual([]);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('passes %s sent to ribo on to a planned container', async (signal) => {
    const trapped = signal.slice(3);
    const { child } = await spawnRibo(['run', '--rm', 'plan-app', 'sh', '-c', `trap 'echo got ${trapped}; exit 42' ${trapped}; echo ready; while true; do sleep 0.1; done`], opts());
    // Its trap is set once it says ready (pid 1 ignores a signal it has no handler for).
    await outputReaches(child.stdout, 'ready');
    const name = await runningName();
    expect(await monitorCommand(name)).toBe('sh');
    // runuser's child is ribo (the shell that stays with the container).
    const riboPid = E2E_USER ? Number((await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).trim().split(' ')[0]) : child.pid!;
    process.kill(riboPid, signal);
    const result = await child;
    expect(result.stdout).toBe(`ready\ngot ${trapped}`);
    expect(result.exitCode).toBe(42);
    expect(await entries(path.join(root, 'containers'))).toEqual([]);
  });

  it('gives the container pipes, not the terminal ribo runs in', async () => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const command = `${path.join(APP_DIR, 'bin/ribo')} --root ${root} run --rm plan-app sh -c '[ -t 1 ] && echo out-tty || echo out-pipe; [ -t 2 ] && echo err-tty >&2 || echo err-pipe >&2'`;
    // script(1) runs the command with a terminal as its stdin, stdout and stderr.
    const asUser = E2E_USER ? ['runuser', '-u', E2E_USER, '--', 'env', `HOME=/home/${E2E_USER}`, `PATH=${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`] : [];
    const inTerminal = await execa(asUser[0] ?? 'script', [...asUser.slice(1), ...(asUser.length ? ['script'] : []), '-qec', command, '/dev/null'], { reject: false, cwd: '/' });
    // Both lines, in either order: each stream has a copier of its own, so which reaches the terminal first is the scheduler's choice.
    expect(inTerminal.stdout.replace(/\r/g, '').split('\n').sort()).toEqual(['err-pipe', 'out-pipe']);
    expect(inTerminal.exitCode).toBe(0);
  });

  it('is not used once the tag names another image', async () => {
    await riboOk(['tag', 'plan-app', 'plan-retag'], opts());
    await riboOk(['run', '--rm', 'plan-retag'], opts());
    expect((await stat(planFile('plan-retag'))).isFile()).toBe(true);
    const changed = await makeContext({ Dockerfile: 'FROM plan-app\nUSER root\nRUN echo v2 > /var/lib/hello/version\n' });
    await riboOk(['build', '-t', 'plan-retag', changed], opts());
    await execa('rm', ['-rf', changed]);
    expect((await riboOk(['run', '--rm', 'plan-retag'], opts())).stdout).toBe('v2');
    expect((await riboOk(['run', '--rm', 'plan-retag', 'id', '-u'], opts())).stdout).toBe('0');
  });

  it.each(['bin/run-plan.sh', 'bin/run-plan-find.sh', 'bin/run-plan-record.sh', 'bin/ribo', 'dist/src/cli/main.js', 'dist/src/run/run-plan.js'])('is not used once %s is newer', async (file) => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const before = (await stat(planFile('plan-app'))).mtimeMs;
    // Changed after the plan was written, as an update of ribo would.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const target = path.join(APP_DIR, file);
    const { atime, mtime } = await stat(target);
    const now = new Date();
    await utimes(target, now, now);
    try {
      // The plan is ignored: Node does the run, and writes a new plan.
      expect((await riboOk(['run', '--rm', 'plan-app'], opts())).stdout).toBe('v1');
      expect((await stat(planFile('plan-app'))).mtimeMs).toBeGreaterThan(before);
    } finally {
      // A main.js newer than the bundle makes bin/ribo load the unbundled CLI (0.5 s a command) in every later suite.
      await utimes(target, atime, mtime);
    }
  });

  it('after rmi and prune, an image built again under the same name runs', async () => {
    await riboOk(['build', '-t', 'plan-pruned', context], opts());
    await riboOk(['run', '--rm', 'plan-pruned', 'true'], opts());
    expect((await stat(planFile('plan-pruned'))).isFile()).toBe(true);
    // Remove the image, prune its layers, and tag the same content again: the plan is older than the tag.
    await riboOk(['rmi', 'plan-pruned'], opts());
    await riboOk(['prune'], opts());
    await riboOk(['build', '-t', 'plan-pruned', context], opts());
    expect((await riboOk(['run', '--rm', 'plan-pruned'], opts())).stdout).toBe('v1');
  });

  it('covers -e, -w and --name: the same container as through Node, shown by ps, and a name in use refused as Node refuses it', async () => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const plan = await readFile(planFile('plan-app'), 'utf8');
    const flags = ['-e', 'A=1', '-e', 'GREETING=hello', '-w', '/tmp'];
    // Without --rm a run goes through Node: the reference.
    const viaNode = await ribo(['run', ...flags, '--name', 'n0', 'plan-app', ...PROBE], opts());
    await riboOk(['rm', 'n0'], opts());
    const planned = await ribo(['run', '--rm', ...flags, '--name', 'n1', 'plan-app', ...PROBE], opts());
    expect(planned).toEqual(viaNode);
    // pwd, then the sorted environment: -e added A and replaced the image's GREETING.
    expect(planned.stdout).toContain('/tmp\nA=1\nGREETING=hello\nHOME=');

    const { child } = await spawnRibo(['run', '--rm', '-e', 'A=1', '-w', '/tmp', '--name', 'n1', 'plan-app', 'sh', '-c', 'echo $A; pwd; grep -c n1 /etc/hosts; echo ready; exec sleep 60'], opts());
    // Killed only once it has written its lines.
    const ready = outputReaches(child.stdout, 'ready');
    expect(await runningName()).toBe('n1');
    expect(await monitorCommand('n1')).toBe('sh');
    expect((await riboOk(['ps', '-a'], opts())).stdout).toMatch(/ Up .* n1$/m);
    const refused = await ribo(['run', '--rm', '--name', 'n1', 'plan-app', 'true'], opts());
    const refusedByNode = await ribo(['run', '--name', 'n1', 'plan-app', 'true'], opts());
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('The container name "n1" is already in use');
    expect(refused).toEqual(refusedByNode);
    await ready;
    await riboOk(['kill', 'n1'], opts());
    const result = await child;
    expect(result.stdout).toBe('1\n/tmp\n1\nready');
    expect(result.exitCode).toBe(137);
    expect((await riboOk(['ps', '-a', '-q'], opts())).stdout).toBe('');
    // Runs with flags use the plan and leave it as it was.
    expect(await readFile(planFile('plan-app'), 'utf8')).toBe(plan);
  });

  it('covers one -v bind of a host path: the same as through Node; a missing host path is made a directory by Node', async () => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const host = await makeContext({ 'file.txt': 'from the host\n' });
    try {
      const look = ['sh', '-c', 'cat /data/file.txt; grep -c " /data " /proc/self/mountinfo; touch /data/x 2>/dev/null || echo read-only; ls /data'];
      const viaNode = await ribo(['run', '-v', `${host}:/data:ro`, '--name', 'v0', 'plan-app', ...look], opts());
      await riboOk(['rm', 'v0'], opts());
      const planned = await ribo(['run', '--rm', '-v', `${host}:/data:ro`, 'plan-app', ...look], opts());
      expect(planned).toEqual(viaNode);
      expect(planned.stdout).toBe('from the host\n1\nread-only\nfile.txt');

      const { child } = await spawnRibo(['run', '--rm', '--name', 'v1', '-v', `${host}:/data`, 'plan-app', 'sh', '-c', 'cat /data/file.txt; exec sleep 60'], opts());
      // Killed only once it has written the file's line.
      const written = outputReaches(child.stdout, 'from the host\n');
      expect(await runningName()).toBe('v1');
      expect(await monitorCommand('v1')).toBe('sh');
      await written;
      await riboOk(['kill', 'v1'], opts());
      expect((await child).stdout).toBe('from the host');

      // A host path that is not there yet: made a directory, as docker's -v does (the run goes through Node).
      await execa('chmod', ['a+w', host]);
      const missing = await riboOk(['run', '--rm', '-v', `${host}/missing/deeper:/data`, 'plan-app', 'sh', '-c', 'test -d /data && echo a directory'], opts());
      expect(missing.stdout).toBe('a directory');
      expect((await stat(`${host}/missing/deeper`)).isDirectory()).toBe(true);
    } finally {
      await execa('rm', ['-rf', host]);
    }
  });

  it('other flags or another driver go through Node, and leave the plan alone', async () => {
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const before = (await stat(planFile('plan-app'))).mtimeMs;
    expect((await riboOk(['run', '--rm', '-e', 'GREETING=hello', 'plan-app', 'sh', '-c', 'echo $GREETING'], opts())).stdout).toBe('hello');
    expect((await riboOk(['run', '--rm', '-u', 'root', 'plan-app', 'id', '-u'], opts())).stdout).toBe('0');
    expect((await riboOk(['run', '--rm', 'plan-app', 'id', '-u'], { root, driver: 'fuse-overlayfs' })).stdout).toBe('1000');
    expect((await stat(planFile('plan-app'))).mtimeMs).toBe(before);
    expect((await riboOk(['run', '--rm', 'plan-app', 'sh', '-c', 'echo $GREETING'], opts())).stdout).toBe('hi');
  });

  it('mounts a --rm container volatile (its unmount syncs nothing), planned or through Node, as podman does; a kept container not', async () => {
    // The super options of the container's root mount, as the container sees them.
    const rootMount = (mountinfo: string) => mountinfo.split('\n').find((line) => line.split(' ')[4] === '/')?.split(' - ')[1] ?? '';
    const look = ['cat', '/proc/self/mountinfo'];
    await riboOk(['run', '--rm', 'plan-app', 'true'], opts());
    const planned = rootMount((await riboOk(['run', '--rm', 'plan-app', ...look], opts())).stdout);
    const viaNode = rootMount((await riboOk(['run', '--rm', '--hostname', 'h1', 'plan-app', ...look], opts())).stdout);
    const kept = rootMount((await riboOk(['run', '--name', 'kept-mount', 'plan-app', ...look], opts())).stdout);
    await riboOk(['rm', 'kept-mount'], opts());
    // Detached, under conmon.
    await riboOk(['run', '-d', '--rm', '--name', 'detached-mount', 'plan-app', 'sleep', '30'], opts());
    const detached = rootMount((await riboOk(['exec', 'detached-mount', ...look], opts())).stdout);
    await riboOk(['kill', 'detached-mount'], opts());
    // Newer kernels show the option as fsync=volatile.
    for (const options of [planned, viaNode, detached]) expect(options).toMatch(/^overlay overlay .*,(fsync=)?volatile(,|$)/);
    expect(kept).toMatch(/^overlay overlay /);
    expect(kept).not.toContain('volatile');
  });

  it('runc runs have plans of their own', async () => {
    const runc = { root, runtime: 'runc' as const };
    const first = await ribo(['run', '--rm', 'plan-app', ...PROBE], runc);
    expect((await stat(planFile('plan-app', 'runc'))).isFile()).toBe(true);
    expect(await ribo(['run', '--rm', 'plan-app', ...PROBE], runc)).toEqual(first);
    expect(first.exitCode).toBe(3);
    expect(first.stdout).toContain('uid=1000(app) gid=1000(app)');
    expect(await readFile(planFile('plan-app', 'runc'), 'utf8')).toContain("plan_runtime_name='runc'");
    const { child } = await spawnRibo(['run', '--rm', 'plan-app', 'sleep', '30'], runc);
    const name = await runningName();
    expect(await monitorCommand(name)).toBe('sh');
    await riboOk(['kill', name], opts());
    expect((await child).exitCode).toBe(137);
    expect(await entries(path.join(root, 'run', 'runc'))).toEqual([]);
  });

  it.each(['host', 'none'] as const)('--network %s runs have plans of their own: the same container as through Node', async (network) => {
    // The interfaces the container sees: the host's, or a loopback alone.
    const look = ['sh', '-c', 'ls /sys/class/net | sort | tr "\\n" " "; grep -c image-hosts-file /etc/hosts; id -u'];
    const viaNode = await ribo(['run', '--network', network, '--name', `${network}0`, 'plan-app', ...look], opts());
    await riboOk(['rm', `${network}0`], opts());
    expect(viaNode.exitCode).toBe(0);
    expect(/^lo \d/.test(viaNode.stdout)).toBe(network === 'none');

    await riboOk(['run', '--rm', `--network=${network}`, 'plan-app', 'true'], opts());
    const plan = path.join(root, 'run-plans', `crun-${network}`, 'plan-app.plan');
    expect(await readFile(plan, 'utf8')).toContain("plan_network=''");
    expect(await ribo(['run', '--rm', '--network', network, 'plan-app', ...look], opts())).toEqual(viaNode);
    const { child } = await spawnRibo(['run', '--rm', '--network', network, '-e', 'A=1', 'plan-app', 'sleep', '30'], opts());
    const name = await runningName();
    expect(await monitorCommand(name)).toBe('sh');
    const [info] = JSON.parse((await riboOk(['inspect', '--type', 'container', name], opts())).stdout) as Array<{ HostConfig: { NetworkMode: string } }>;
    expect(info!.HostConfig.NetworkMode).toBe(network);
    await riboOk(['kill', name], opts());
    expect((await child).exitCode).toBe(137);
    expect(await entries(path.join(root, 'containers'))).toEqual([]);
  });
});
