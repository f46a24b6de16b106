/**
 * Containers that outlive one command, as an unprivileged user sees them:
 * exit codes, --rm leaving nothing, named containers kept until `ribo rm`,
 * `run -d` with logs, exec, stop and kill, signals reaching a foreground
 * container, and the clean-up after ribo's monitor was killed.
 */
import { execa } from 'execa';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, PROJECT_ROOT, makeContext, makeStore, outputReaches, removeStore, ribo, riboOk, spawnRibo, type DriverName, type RiboOptions, type RuntimeName, until } from './harness.js';

const APP_DIR = process.env.RIBO_E2E_APP ?? PROJECT_ROOT;
let root: string;
let context: string;

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({}, 'hello');
  await riboOk(['build', '-t', 'hello', context], { root });
  // An image whose STOPSIGNAL is not SIGTERM.
  const stopsignal = await makeContext({ Dockerfile: 'FROM hello\nSTOPSIGNAL SIGUSR1\nLABEL from.image=yes\n' });
  await riboOk(['build', '-t', 'usr1', stopsignal], { root });
  await execa('rm', ['-rf', stopsignal]);
}, 300_000);

afterAll(async () => {
  // Whatever a failed test left running must not outlive the suite.
  const left = await ribo(['ps', '-a', '-q'], { root });
  for (const id of left.stdout.split('\n').filter(Boolean)) await ribo(['rm', '-f', id], { root });
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; StartedAt: string; FinishedAt: string; MonitorPid: number; Error: string };
  GraphDriver: { Name: string; Data: { LowerDir: string; UpperDir: string; MergedDir: string; WorkDir: string } };
}

async function inspect(name: string, opts: RiboOptions): Promise<Inspected> {
  const [first] = JSON.parse((await riboOk(['inspect', '--type', 'container', name], opts)).stdout) as Inspected[];
  return first!;
}

/** The `ribo ps -a` row of the container called `name`, or undefined. */
async function psRow(name: string, opts: RiboOptions): Promise<string | undefined> {
  const { stdout } = await riboOk(['ps', '-a'], opts);
  return stdout.split('\n').find((line) => line.trimEnd().endsWith(`  ${name}`));
}

const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);
const containerDirs = async () => (await entries(path.join(root, 'containers'))).sort();
/** The runtime's containers: its state dir's entries but the dot-dirs (crun's compiled seccomp filters), which `crun list` skips too. */
const runtimeState = async (runtime: RuntimeName = 'crun') => (await entries(path.join(root, 'run', runtime))).filter((entry) => !entry.startsWith('.'));

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The ribo process under the runuser (if any) that spawnRibo started as `pid`. */
async function riboPid(pid: number): Promise<number> {
  if (!E2E_USER) return pid;
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return Number(children.trim().split(' ')[0]);
}

/** Processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await entries('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(name));
  }
  return found;
}

describe('foreground containers', () => {
  it('exits with the container\'s exit code', async () => {
    expect((await ribo(['run', '--rm', 'hello', 'sh', '-c', 'exit 7'], { root })).exitCode).toBe(7);
    expect((await ribo(['run', '--rm', 'hello', 'true'], { root })).exitCode).toBe(0);
  });

  it('--rm leaves nothing under containers/ and no runtime state', async () => {
    const before = await containerDirs();
    await riboOk(['run', '--rm', 'hello', 'sh', '-c', 'echo changed > /new-file'], { root });
    expect(await containerDirs()).toEqual(before);
    expect(await runtimeState()).toEqual([]);
  });

  it('keeps a named container until rm: ps -a shows its exit code, inspect its changes, the name is taken', async () => {
    const result = await ribo(['run', '--name', 'kept', 'hello', 'sh', '-c', 'echo "from the container" > /kept.txt; rm /app/hello.sh; echo bye; exit 3'], { root });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toContain('bye');
    expect(await psRow('kept', { root })).toMatch(/hello\s+"sh -c echo.*Exited \(3\) .* ago\s+kept$/);
    // ps without -a lists running containers only.
    expect((await riboOk(['ps'], { root })).stdout).not.toContain('kept');

    const info = await inspect('kept', { root });
    expect(info.Name).toBe('/kept');
    expect(info.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 3, Pid: 0 });
    expect(Date.parse(info.State.FinishedAt)).toBeGreaterThanOrEqual(Date.parse(info.State.StartedAt));
    expect(await readFile(path.join(info.GraphDriver.Data.UpperDir, 'kept.txt'), 'utf8')).toBe('from the container\n');
    expect(info.GraphDriver.Data.UpperDir).toBe(path.join(root, 'containers', info.Id, 'upper'));
    const lowers = info.GraphDriver.Data.LowerDir.split(':');
    expect(lowers.length).toBeGreaterThan(1);
    for (const lower of lowers) expect(path.dirname(lower)).toBe(path.join(root, 'layers'));
    // The image is untouched: its layers still have the file the container deleted.
    expect((await ribo(['run', '--rm', 'hello', 'cat', '/kept.txt'], { root })).exitCode).not.toBe(0);
    expect((await riboOk(['run', '--rm', 'hello', 'ls', '/app/hello.sh'], { root })).stdout.trim()).toBe('/app/hello.sh');
    // Containers are found before images, as docker does.
    expect(JSON.parse((await riboOk(['inspect', 'kept'], { root })).stdout)[0].Id).toBe(info.Id);
    expect((await riboOk(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.GraphDriver.Data.UpperDir}}', 'kept'], { root })).stdout.trim()).toBe(`exited 3 ${info.GraphDriver.Data.UpperDir}`);
    expect(JSON.parse((await riboOk(['inspect', '--type', 'image', 'hello'], { root })).stdout)[0].RepoTags).toEqual(['hello:latest']);

    const clash = await ribo(['run', '--name', 'kept', 'hello', 'true'], { root });
    expect(clash.exitCode).not.toBe(0);
    expect(clash.stderr).toContain('"kept" is already in use');
    expect(clash.stderr).toContain('ribo rm kept');

    await riboOk(['rm', 'kept'], { root });
    expect(await psRow('kept', { root })).toBeUndefined();
    expect(await containerDirs()).not.toContain(info.Id);
    expect((await ribo(['inspect', '--type', 'container', 'kept'], { root })).stderr).toContain('No such container: kept');
  });

  it('start runs an exited container again over the writable layer it kept', async () => {
    const script = 'echo run >> /count; n=$(wc -l < /count); echo "run $n"; exit $n';
    expect((await ribo(['run', '--name', 'again', 'hello', 'sh', '-c', script], { root })).exitCode).toBe(1);
    const attached = await ribo(['start', '-a', 'again'], { root });
    expect(attached.stdout.trim()).toBe('run 2');
    expect(attached.exitCode).toBe(2);
    expect((await riboOk(['start', 'again'], { root })).stdout.trim()).toBe('again');
    await until('the third run to end', async () => (await psRow('again', { root }))?.includes('Exited (3)'));
    expect((await riboOk(['logs', 'again'], { root })).stdout).toBe('run 1\nrun 2\nrun 3');
    await riboOk(['rm', 'again'], { root });
  });

  it('restart stops a running container and starts it again over its writable layer; a --rm one is refused', async () => {
    // The trap is set before the line the test waits for (pid 1 ignores a signal it has no handler for).
    const loop = 'trap "exit 0" TERM; echo up >> /count; echo "start $(wc -l < /count)"; while true; do sleep 0.1; done';
    await riboOk(['run', '-d', '--name', 'rs', 'hello', 'sh', '-c', loop], { root });
    const started = (n: number) => until(`start ${n}`, async () => (await ribo(['logs', 'rs'], { root })).stdout.includes(`start ${n}`));
    await started(1);
    expect((await riboOk(['restart', '-t', '5', 'rs'], { root })).stdout.trim()).toBe('rs');
    await started(2);
    expect(await psRow('rs', { root })).toContain('Up ');
    // An exited container is just started.
    await riboOk(['stop', 'rs'], { root });
    await riboOk(['restart', 'rs'], { root });
    await started(3);
    await riboOk(['rm', '-f', 'rs'], { root });

    await riboOk(['run', '-d', '--rm', '--name', 'rs-rm', 'hello', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'], { root });
    const refused = await ribo(['restart', 'rs-rm'], { root });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--rm');
    expect(await psRow('rs-rm', { root })).toContain('Up ');
    await riboOk(['stop', 'rs-rm'], { root });
  });

  it('cp copies out of a running or exited container and into a stopped one, with docker cp\'s path rules', async () => {
    const setup = 'mkdir -p /data/sub && echo one > /data/a.txt && echo two > /data/sub/b.txt && ln -s a.txt /data/link';
    await riboOk(['run', '-d', '--name', 'cpc', 'hello', 'sh', '-c', `trap "exit 0" TERM; ${setup}; while true; do sleep 0.1; done`], { root });
    await until('the files', async () => (await ribo(['exec', 'cpc', 'cat', '/data/sub/b.txt'], { root })).stdout.trim() === 'two');
    const out = await makeStore();
    try {
      // Out of the running container: a file, a directory as itself, a directory's contents, a symlink as a symlink.
      await riboOk(['cp', 'cpc:/data/a.txt', `${out}/a-copy.txt`], { root });
      await riboOk(['cp', 'cpc:/data', `${out}/`], { root });
      await riboOk(['cp', 'cpc:/data/sub/.', `${out}/flat`], { root });
      expect(await readFile(`${out}/a-copy.txt`, 'utf8')).toBe('one\n');
      expect(await readFile(`${out}/data/sub/b.txt`, 'utf8')).toBe('two\n');
      expect(await readFile(`${out}/flat/b.txt`, 'utf8')).toBe('two\n');
      expect(await readlink(`${out}/data/link`)).toBe('a.txt');
      const missing = await ribo(['cp', 'cpc:/nowhere', `${out}/x`], { root });
      expect(missing.exitCode).toBe(1);
      expect(missing.stderr).toContain('cpc:/nowhere does not exist');
      // "-": a tar stream on stdout, as docker writes it (the entry named as the source's last component).
      const tarOf = async (source: string) => {
        const [command, ...args] = riboCommandLine(['cp', source, '-'], { root });
        const listed = await execa('sh', ['-c', '"$@" | tar -tvf -', 'sh', command!, ...args]);
        return listed.stdout.split('\n').map((line) => line.split(/\s+/).slice(5).join(' ')).sort();
      };
      expect(await tarOf('cpc:/data/a.txt')).toEqual(['a.txt']);
      expect(await tarOf('cpc:/data')).toEqual(['data/', 'data/a.txt', 'data/link -> a.txt', 'data/sub/', 'data/sub/b.txt']);
      expect(await tarOf('cpc:/data/sub/.')).toEqual(['./', './b.txt']);
      // A reader that stops early (| head -c 1): a clear line and the status of a broken pipe, not an empty "failed: ".
      const [cpCommand, ...cpArgs] = riboCommandLine(['cp', 'cpc:/', '-'], { root });
      const cut = await execa('bash', ['-c', '"$@" | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}', 'sh', cpCommand!, ...cpArgs], { reject: false });
      expect({ exitCode: cut.exitCode, stderr: cut.stderr }).toEqual({ exitCode: 141, stderr: 'ribo: error: Writing cpc:/ as a tar stream stopped: the program reading it closed the pipe first.' });

      const input = await makeContext({ 'in.txt': 'from the host\n', 'tree/c.txt': 'c\n', 'streamed/d.txt': 'd\n' });
      try {
        const running = await ribo(['cp', `${input}/in.txt`, 'cpc:/data/'], { root });
        expect(running.exitCode).toBe(2);
        expect(running.stderr).toContain('ribo stop cpc');
        await riboOk(['stop', 'cpc'], { root });
        await riboOk(['cp', `${input}/in.txt`, 'cpc:/data/'], { root });
        await riboOk(['cp', `${input}/tree`, 'cpc:/data'], { root });
        // "-" as the source: a tar stream from stdin, unpacked into the directory named.
        const [command, ...args] = riboCommandLine(['cp', '-', 'cpc:/data'], { root });
        await execa('sh', ['-c', 'tar -C "$0" -cf - streamed | "$@"', input, command!, ...args]);
        await riboOk(['start', 'cpc'], { root });
        await until('the restart', async () => (await psRow('cpc', { root }))?.includes('Up '));
        expect((await riboOk(['exec', 'cpc', 'sh', '-c', 'cat /data/in.txt /data/tree/c.txt /data/streamed/d.txt; stat -c "%u" /data/in.txt'], { root })).stdout).toBe('from the host\nc\nd\n0');
        // Out of an exited container too.
        await riboOk(['stop', 'cpc'], { root });
        await riboOk(['cp', 'cpc:/data/in.txt', `${out}/back.txt`], { root });
        expect(await readFile(`${out}/back.txt`, 'utf8')).toBe('from the host\n');
      } finally {
        await execa('rm', ['-rf', input]);
      }
    } finally {
      await removeStore(out);
      await ribo(['rm', '-f', 'cpc'], { root });
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('passes %s sent to ribo on to the container and returns its exit code', async (signal) => {
    const name = `fg-${signal.toLowerCase()}`;
    const trapped = signal.slice(3);
    const { child } = await spawnRibo(['run', '--rm', '--name', name, 'hello', 'sh', '-c', `trap "echo got ${trapped}; exit 42" ${trapped}; echo ready; while true; do sleep 0.1; done`], { root });
    // Its trap is set once it says ready (pid 1 ignores a signal it has no handler for).
    await outputReaches(child.stdout, 'ready');
    await until('the container to run', async () => (await psRow(name, { root }))?.includes('Up '));
    // To ribo itself, not to runuser in front of it (which would end with the signal rather than ribo's code).
    process.kill(await riboPid(child.pid!), signal);
    const result = await child;
    expect(result.stdout).toContain('ready');
    expect(result.stdout).toContain(`got ${trapped}`);
    expect(result.exitCode).toBe(42);
    expect(await psRow(name, { root })).toBeUndefined();
  });

  it('returns 128+N when the container is killed by signal N', async () => {
    const { child } = await spawnRibo(['run', '--name', 'fg-kill', 'hello', 'sleep', '1000'], { root });
    await until('the container to run', async () => (await psRow('fg-kill', { root }))?.includes('Up '));
    await riboOk(['kill', 'fg-kill'], { root });
    expect((await child).exitCode).toBe(137);
    expect(await psRow('fg-kill', { root })).toMatch(/Exited \(137\)/);
    await riboOk(['rm', 'fg-kill'], { root });
  });
});

const combos: Array<[DriverName, RuntimeName]> = [
  ['overlay', 'crun'],
  ['fuse-overlayfs', 'runc'],
];

describe.each(combos)('detached containers with %s and %s', (driver, runtime) => {
  const opts = (): RiboOptions => ({ root, driver, runtime });

  it('run -d prints the id at once; logs -f follows the output until the container exits', async () => {
    // Each line waits until logs -f has shown the one before (the test touches /app/err, then /app/go): stdout and
    // stderr are two pipes, read as they come, so lines written close together have no order between them, as with docker.
    // It ends once the test touches /app/go, so it is still up however slowly the test goes.
    const script = 'echo out1; while [ ! -e /app/err ]; do sleep 0.1; done; echo err1 >&2; while [ ! -e /app/go ]; do sleep 0.1; done; echo out2';
    const { stdout } = await riboOk(['run', '-d', '--name', `logs-${runtime}`, 'hello', 'sh', '-c', script], opts());
    const id = stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await psRow(`logs-${runtime}`, opts())).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+hello\\s+.*Up `));
    const { child: following } = await spawnRibo(['logs', '-f', `logs-${runtime}`], opts());
    // logs -f has shown what was written so far; what comes after it follows, on stderr too.
    await outputReaches(following.stdout, 'out1');
    const errShown = outputReaches(following.stderr, 'err1');
    await riboOk(['exec', `logs-${runtime}`, 'touch', '/app/err'], opts());
    await errShown;
    await riboOk(['exec', `logs-${runtime}`, 'touch', '/app/go'], opts());
    const followed = await following;
    expect(followed.exitCode).toBe(0);
    // (execa strips the last newline)
    expect(followed.stdout).toBe('out1\nout2');
    expect(followed.stderr).toBe('err1');
    expect(await psRow(`logs-${runtime}`, opts())).toMatch(/Exited \(0\)/);
    const again = await riboOk(['logs', id.slice(0, 8)], opts());
    expect(again.stdout).toBe('out1\nout2');
    expect((await riboOk(['logs', '--tail', '2', `logs-${runtime}`], opts()))).toMatchObject({ stdout: 'out2', stderr: 'err1' });
    expect((await riboOk(['logs', '-t', `logs-${runtime}`], opts())).stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z out1\n\d{4}-\d\d-\d\dT[\d:.]+Z out2$/);
    expect((await riboOk(['logs', '--since', '1h', `logs-${runtime}`], opts())).stdout).toBe('out1\nout2');
    expect(await riboOk(['logs', '--until', '1h', `logs-${runtime}`], opts())).toMatchObject({ stdout: '', stderr: '' });
    expect((await riboOk(['logs', '--since', String(Math.floor(Date.now() / 1000) + 3600), `logs-${runtime}`], opts())).stdout).toBe('');
    const badTime = await ribo(['logs', '--since', 'yesterday', `logs-${runtime}`], opts());
    expect(badTime.exitCode).toBe(2);
    expect(badTime.stderr).toContain('--since yesterday');
    await riboOk(['rm', `logs-${runtime}`], opts());
  });

  it('exec runs in the container: its files, processes, env, user and exit code', async () => {
    const name = `exec-${runtime}`;
    await riboOk(['run', '-d', '--name', name, '-e', 'FROM_RUN=yes', 'hello', 'sh', '-c', 'echo made-by-pid1 > /state.txt; exec sleep 1000'], opts());
    await until('the state file', async () => (await ribo(['exec', name, 'cat', '/state.txt'], opts())).stdout.includes('made-by-pid1'));
    // The shell writes the file before it execs sleep: ps may see it as sh for a moment.
    await until('ps in the container to show sleep as pid 1', async () => /^\s*1 .*sleep 1000$/m.test((await riboOk(['exec', name, 'ps'], opts())).stdout));
    const env = await riboOk(['exec', '-e', 'EXTRA=1', '-w', '/app', name, 'sh', '-c', 'echo "$FROM_RUN $EXTRA $(pwd) $(id -u)"'], opts());
    expect(env.stdout.trim()).toBe('yes 1 /app 0');
    expect((await riboOk(['exec', '-u', '1000:1000', name, 'id', '-u'], opts())).stdout.trim()).toBe('1000');
    // Words that look like numbers reach the command as typed, in exec and in a run through Node (--cap-drop has no plan).
    const numberLike = ['0x10', '1e3', '1.10', '.5', '007', '-5', '1_000'];
    expect((await riboOk(['exec', name, 'echo', ...numberLike], opts())).stdout).toBe(numberLike.join(' '));
    expect((await riboOk(['run', '--rm', '--cap-drop', 'ALL', 'hello', 'echo', ...numberLike], opts())).stdout).toBe(numberLike.join(' '));
    expect((await ribo(['exec', name, 'sh', '-c', 'exit 5'], opts())).exitCode).toBe(5);
    const [command, ...args] = riboCommandLine(['exec', '-i', name, 'cat'], opts());
    const input = await execa(command!, args, { input: 'piped\n' });
    expect(input.stdout.trim()).toBe('piped');
    await riboOk(['rm', '-f', name], opts());
    expect(await psRow(name, opts())).toBeUndefined();
    expect((await ribo(['exec', name, 'true'], opts())).exitCode).not.toBe(0);
  });

  it('stop sends SIGTERM and the container that handles it exits cleanly', async () => {
    const name = `stop-${runtime}`;
    await riboOk(['run', '-d', '--name', name, 'hello', 'sh', '-c', 'trap "echo stopping > /marker; exit 0" TERM; echo ready; while true; do sleep 0.1; done'], opts());
    // Its trap is set once it says ready (pid 1 ignores a signal it has no handler for).
    await until('the trap', async () => (await ribo(['logs', name], opts())).stdout === 'ready');
    await riboOk(['stop', name], opts());
    const info = await inspect(name, opts());
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 0 });
    expect(await readFile(path.join(info.GraphDriver.Data.UpperDir, 'marker'), 'utf8')).toBe('stopping\n');
    // Stopping what has stopped is not an error.
    await riboOk(['stop', name], opts());
    await riboOk(['rm', name], opts());
  });

  it('stop sends SIGKILL after the timeout to a container that ignores SIGTERM', async () => {
    const name = `ignore-${runtime}`;
    await riboOk(['run', '-d', '--name', name, 'hello', 'sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'], opts());
    const started = Date.now();
    await riboOk(['stop', '-t', '1', name], opts());
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await psRow(name, opts())).toMatch(/Exited \(137\)/);
    await riboOk(['rm', name], opts());
  });

  it('--rm -d leaves nothing once the container exits', async () => {
    const before = await containerDirs();
    await riboOk(['run', '-d', '--rm', 'hello', 'sh', '-c', 'sleep 0.5'], opts());
    await until('the container to be removed', async () => JSON.stringify(await containerDirs()) === JSON.stringify(before));
    expect(await runtimeState(runtime)).toEqual([]);
  });

  it('cleans up after a monitor killed with SIGKILL: ps marks it exited, rm removes it', async () => {
    const name = `crash-${runtime}`;
    const id = (await riboOk(['run', '-d', '--name', name, 'hello', 'sleep', '1000'], opts())).stdout.trim();
    const running = await inspect(name, opts());
    expect(running.State.Running).toBe(true);
    expect(processExists(running.State.Pid)).toBe(true);
    process.kill(running.State.MonitorPid, 'SIGKILL');
    await until('the monitor to die', async () => !processExists(running.State.MonitorPid) || (await readFile(`/proc/${running.State.MonitorPid}/stat`, 'utf8').catch(() => ' Z ')).includes(') Z'));

    expect(await psRow(name, opts())).toMatch(/Exited \(255\)/);
    const after = await inspect(name, opts());
    expect(after.State.Status).toBe('exited');
    expect(after.State.Error).toContain('monitor');
    await until('the container process to end', async () => !processExists(running.State.Pid));
    // Nothing still holds the container: no runtime process, no fuse-overlayfs.
    expect(await processesMentioning(id)).toEqual([]);
    expect(await runtimeState(runtime)).toEqual([]);
    await riboOk(['rm', name], opts());
    expect(await containerDirs()).not.toContain(id);
  });

  it('removes a crashed --rm container on the next ps', async () => {
    const id = (await riboOk(['run', '-d', '--rm', 'hello', 'sleep', '1000'], opts())).stdout.trim();
    const running = await inspect(id, opts());
    process.kill(running.State.MonitorPid, 'SIGKILL');
    await until('ps to forget it', async () => !(await riboOk(['ps', '-a'], opts())).stdout.includes(id.slice(0, 12)));
    expect(await containerDirs()).not.toContain(id);
    await until('the container process to end', async () => !processExists(running.State.Pid));
  });
});

describe('names and errors', () => {
  it('wait blocks until the container exits and prints its exit code', async () => {
    await riboOk(['run', '-d', '--name', 'waited', 'hello', 'sh', '-c', 'sleep 1; exit 4'], { root });
    expect((await riboOk(['wait', 'waited'], { root })).stdout.trim()).toBe('4');
    expect(await psRow('waited', { root })).toMatch(/Exited \(4\)/);
    await riboOk(['rm', 'waited'], { root });
  });

  it('honours the image\'s STOPSIGNAL', async () => {
    await riboOk(['run', '-d', '--name', 'usr1', 'usr1', 'sh', '-c', 'trap "exit 0" USR1; trap "" TERM; echo ready; while true; do sleep 0.1; done'], { root });
    // Its trap is set once it says ready (pid 1 ignores a signal it has no handler for).
    await until('the trap', async () => (await ribo(['logs', 'usr1'], { root })).stdout === 'ready');
    await riboOk(['stop', '-t', '5', 'usr1'], { root });
    expect(await psRow('usr1', { root })).toMatch(/Exited \(0\)/);
    await riboOk(['rm', 'usr1'], { root });
  });

  it('--stop-signal replaces the image\'s STOPSIGNAL, --stop-timeout the 10 s before SIGKILL; --label marks the container for ps and inspect', async () => {
    const script = 'trap "echo got-usr2" USR2; trap "" TERM; echo ready; while true; do sleep 0.1; done';
    await riboOk(['run', '-d', '--name', 'sigs', '--stop-signal', 'USR2', '--stop-timeout', '1', '--label', 'team=blue', '-l', 'flag', 'usr1', 'sh', '-c', script], { root });
    await until('the trap', async () => (await ribo(['logs', 'sigs'], { root })).stdout === 'ready');
    const [info] = JSON.parse((await riboOk(['inspect', '--type', 'container', 'sigs'], { root })).stdout) as Array<{ Config: { Labels: Record<string, string>; StopSignal: string; StopTimeout: number } }>;
    // The image's labels too, as docker keeps them in the container's config.
    expect(info!.Config).toMatchObject({ Labels: { 'from.image': 'yes', team: 'blue', flag: '' }, StopSignal: 'SIGUSR2', StopTimeout: 1 });
    const listed = async (filter: string) => (await riboOk(['ps', '-a', '--format', '{{.Names}} {{.Labels}}', '--filter', filter], { root })).stdout.trim();
    expect(await listed('label=team=blue')).toBe('sigs from.image=yes,team=blue,flag=');
    expect(await listed('label=flag')).toBe('sigs from.image=yes,team=blue,flag=');
    expect(await listed('label=from.image')).toBe('sigs from.image=yes,team=blue,flag=');
    expect(await listed('label=team=red')).toBe('');
    // USR2 is trapped and the container goes on: SIGKILL follows after its own 1 s, not 10 s.
    const started = Date.now();
    await riboOk(['stop', 'sigs'], { root });
    expect(Date.now() - started).toBeLessThan(8000);
    expect((await ribo(['logs', 'sigs'], { root })).stdout).toContain('got-usr2');
    expect(await psRow('sigs', { root })).toMatch(/Exited \(137\)/);
    await riboOk(['rm', 'sigs'], { root });
  });

  it('refuses to rm a running container without -f, and says how', async () => {
    await riboOk(['run', '-d', '--name', 'busy', 'hello', 'sleep', '1000'], { root });
    const refused = await ribo(['rm', 'busy'], { root });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('ribo rm -f busy');
    await riboOk(['rm', '-f', 'busy'], { root });
    expect(await psRow('busy', { root })).toBeUndefined();
  });

  it('prune neither waits for a running container nor deletes the layers containers use', async () => {
    const ctx = await makeContext({ Dockerfile: 'FROM hello\nRUN echo unique > /unique\n' });
    await riboOk(['build', '-t', 'pruneme', ctx], { root });
    await execa('rm', ['-rf', ctx]);
    await riboOk(['run', '-d', '--name', 'on-pruned', 'pruneme', 'sleep', '1000'], { root });
    await riboOk(['run', '--name', 'kept-pruned', 'pruneme', 'true'], { root });
    // -f: the image is in use (ribo rmi refuses it otherwise, as docker does).
    await riboOk(['rmi', '-f', 'pruneme'], { root });
    await riboOk(['prune', '--all', '--wait', '5'], { root });
    expect((await riboOk(['exec', 'on-pruned', 'cat', '/unique'], { root })).stdout.trim()).toBe('unique');
    const kept = await inspect('kept-pruned', { root });
    for (const lower of kept.GraphDriver.Data.LowerDir.split(':')) expect(await entries(lower)).not.toEqual([]);
    await riboOk(['rm', '-f', 'on-pruned', 'kept-pruned'], { root });
  });

  it('gives a name to only one of two containers started at once', async () => {
    const results = await Promise.all([1, 2].map(() => ribo(['run', '-d', '--name', 'twice', 'hello', 'sleep', '1000'], { root })));
    expect(results.map((r) => r.exitCode).sort()).toEqual([0, 2]);
    expect(results.find((r) => r.exitCode !== 0)!.stderr).toContain('"twice" is already in use');
    await riboOk(['rm', '-f', 'twice'], { root });
  });

  it('names a missing container clearly', async () => {
    for (const args of [['logs', 'nosuch'], ['stop', 'nosuch'], ['rm', 'nosuch'], ['exec', 'nosuch', 'true']]) {
      const result = await ribo(args, { root });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('No such container: nosuch');
    }
  });

  it('acts on the names it finds and reports the others, as docker does (rm, kill, wait)', async () => {
    for (const name of ['many-1', 'many-2']) await riboOk(['run', '-d', '--name', name, 'hello', 'sleep', '1000'], { root });
    const killed = await ribo(['kill', 'many-1', 'nosuch', 'many-2'], { root });
    expect(killed).toMatchObject({ exitCode: 1, stdout: 'many-1\nmany-2' });
    expect(killed.stderr).toContain('No such container: nosuch');
    expect((await ribo(['wait', 'nosuch', 'many-1', 'many-2'], { root })).stdout).toBe('137\n137');
    const removed = await ribo(['rm', 'many-1', 'nosuch', 'many-2'], { root });
    expect(removed).toMatchObject({ exitCode: 1, stdout: 'many-1\nmany-2' });
    expect(await psRow('many-1', { root })).toBeUndefined();
    expect(await psRow('many-2', { root })).toBeUndefined();
  });
});

describe('restart policies, forced removal and pruning', () => {
  const settled = async (name: string) => {
    // Exited, with no restart pending (the restarting process gone).
    const info = await inspect(name, { root });
    return info.State.Status === 'exited' && !(info.State as { Restarting?: boolean }).Restarting && info;
  };
  const restartCount = async (name: string) => Number((await riboOk(['inspect', '-f', '{{.RestartCount}}', name], { root })).stdout.trim());

  it('restart works on a container whose process is not root', async () => {
    await riboOk(['run', '-d', '--name', 'rs-user', '-u', '1000', 'hello', 'sh', '-c', 'trap "exit 0" TERM; echo "start $(id -u)"; while true; do sleep 0.1; done'], { root });
    await until('the first start', async () => (await ribo(['logs', 'rs-user'], { root })).stdout.includes('start 1000'));
    const restarted = await ribo(['restart', '-t', '5', 'rs-user'], { root });
    expect(restarted.stderr).toBe('');
    expect(restarted.exitCode).toBe(0);
    await until('the second start', async () => (await ribo(['logs', 'rs-user'], { root })).stdout === 'start 1000\nstart 1000');
    expect(await psRow('rs-user', { root })).toContain('Up ');
    await riboOk(['rm', '-f', 'rs-user'], { root });
  });

  // conmon's exit command restarts, whatever the driver and runtime.
  it.each(combos)('--restart on-failure:2 restarts a container that exits 1 exactly twice (%s, %s)', async (driver, runtime) => {
    const opts = { root, driver, runtime };
    await riboOk(['run', '-d', '--name', 'onfail', '--restart', 'on-failure:2', 'hello', 'sh', '-c', 'echo run; exit 1'], opts);
    const info = await until('the restarts to end', () => settled('onfail'), 60_000);
    expect(info.State.ExitCode).toBe(1);
    expect(await restartCount('onfail')).toBe(2);
    expect((await riboOk(['logs', 'onfail'], opts)).stdout).toBe('run\nrun\nrun');
    expect((await riboOk(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}', 'onfail'], opts)).stdout.trim()).toBe('on-failure:2');
    await riboOk(['rm', 'onfail'], opts);
  });

  it('--restart on-failure does not restart a clean exit', async () => {
    // A clean exit is not a failure.
    await riboOk(['run', '-d', '--name', 'onfail-ok', '--restart', 'on-failure', 'hello', 'true'], { root });
    await until('it to exit', () => settled('onfail-ok'), 60_000);
    expect(await restartCount('onfail-ok')).toBe(0);
    await riboOk(['rm', 'onfail-ok'], { root });
  });

  it('--restart always restarts until ribo stop, which does not start it again; ps says Restarting meanwhile', async () => {
    await riboOk(['run', '-d', '--name', 'always', '--restart', 'always', 'hello', 'sh', '-c', 'echo run; sleep 0.5'], { root });
    await until('two restarts', async () => (await restartCount('always')) >= 2, 60_000);
    // Between runs (a back-off that doubles each time) ps shows it as restarting, docker's wording.
    await until('ps to show a restart under way', async () => /Restarting \(0\) /.test((await psRow('always', { root })) ?? ''), 60_000);
    await riboOk(['stop', 'always'], { root });
    const stopped = await until('the stop to settle', () => settled('always'), 60_000);
    const count = await restartCount('always');
    const runs = (await riboOk(['logs', 'always'], { root })).stdout.split('\n').length;
    // Nothing runs it again.
    expect(stopped.State.Running).toBe(false);
    expect(await restartCount('always')).toBe(count);
    expect((await riboOk(['logs', 'always'], { root })).stdout.split('\n').length).toBe(runs);
    expect(await psRow('always', { root })).toMatch(/Exited \(/);
    // Refused where it cannot work.
    for (const args of [['--restart', 'always', '--rm', '-d'], ['--restart', 'always'], ['--restart', 'sometimes', '-d']]) {
      const refused = await ribo(['run', ...args, 'hello', 'true'], { root });
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toContain('--restart');
    }
    await riboOk(['rm', 'always'], { root });
  });

  it('rm -f stops and removes a running container; rm -v removes its anonymous volume', async () => {
    const id = (await riboOk(['run', '-d', '--name', 'rmf', '-v', '/scratch', 'hello', 'sh', '-c', 'echo x > /scratch/f; sleep 1000'], { root })).stdout.trim();
    const volume = JSON.parse((await riboOk(['inspect', '-f', '{{json .Mounts}}', 'rmf'], { root })).stdout)[0].Name as string;
    expect((await riboOk(['volume', 'ls', '-q'], { root })).stdout.split('\n')).toContain(volume);
    const pid = (await inspect('rmf', { root })).State.Pid;
    expect((await riboOk(['rm', '-f', '-v', 'rmf'], { root })).stdout.trim()).toBe('rmf');
    expect(processExists(pid)).toBe(false);
    expect(await containerDirs()).not.toContain(id);
    expect((await riboOk(['volume', 'ls', '-q'], { root })).stdout.split('\n')).not.toContain(volume);
  });

  it('container prune removes stopped containers only, and says what and how much', async () => {
    const done = (await riboOk(['run', '-d', '--name', 'pr-done', 'hello', 'sh', '-c', 'head -c 100000 /dev/zero > /big'], { root })).stdout.trim();
    await until('it to exit', () => settled('pr-done'));
    const busy = (await riboOk(['run', '-d', '--name', 'pr-busy', 'hello', 'sleep', '1000'], { root })).stdout.trim();
    const { stdout } = await riboOk(['container', 'prune'], { root });
    // (other tests' stopped containers may be listed too)
    expect(stdout.split('\n')[0]).toBe('Deleted Containers:');
    expect(stdout.split('\n')).toContain(done);
    expect(stdout).not.toContain(busy);
    // The 100 kB file of its writable layer at least.
    const reclaimed = /Total reclaimed space: ([\d.]+)(kB|MB)/.exec(stdout);
    expect(reclaimed).not.toBeNull();
    expect(Number(reclaimed![1]) * (reclaimed![2] === 'MB' ? 1000 : 1)).toBeGreaterThanOrEqual(100);
    expect(await psRow('pr-done', { root })).toBeUndefined();
    expect(await psRow('pr-busy', { root })).toContain('Up ');
    expect((await riboOk(['container-prune', '-f'], { root })).stdout).toBe('Total reclaimed space: 0B');
    await riboOk(['rm', '-f', 'pr-busy'], { root });
  });

  it('rmi refuses an image a container uses, naming it; -f untags it and the container still starts; prune keeps the image', async () => {
    const ctx = await makeContext({ Dockerfile: 'FROM hello\nRUN echo inuse > /inuse\n' });
    await riboOk(['build', '-t', 'inuse', ctx], { root });
    await execa('rm', ['-rf', ctx]);
    await riboOk(['run', '--name', 'user-of-inuse', 'inuse', 'true'], { root });
    const refused = await ribo(['rmi', 'inuse'], { root });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('user-of-inuse');
    expect(refused.stderr).toContain('ribo rmi -f inuse');
    expect((await riboOk(['images'], { root })).stdout).toContain('inuse');
    // A second tag goes without -f: the image keeps a name.
    await riboOk(['tag', 'inuse', 'inuse:other'], { root });
    await riboOk(['rmi', 'inuse:other'], { root });
    expect((await riboOk(['rmi', '-f', 'inuse'], { root })).stdout).toContain('Untagged: inuse');
    const imageDigest = JSON.parse((await riboOk(['inspect', '--type', 'container', 'user-of-inuse'], { root })).stdout)[0].Image as string;
    await riboOk(['prune', '--all', '--wait', '5'], { root });
    // The image's manifest is kept (so its layers are too), and the container runs again.
    expect(await entries(path.join(root, 'blobs', 'sha256'))).toContain(imageDigest.replace('sha256:', ''));
    const again = await ribo(['start', '-a', 'user-of-inuse'], { root });
    expect(again.exitCode).toBe(0);
    expect((await riboOk(['run', '--rm', imageDigest, 'cat', '/inuse'], { root })).stdout.trim()).toBe('inuse');
    await riboOk(['rm', 'user-of-inuse'], { root });
  });

  it('ends the container when the foreground ribo run is killed with SIGKILL, without waiting for a later command', async () => {
    const { child } = await spawnRibo(['run', '--name', 'fg-orphan', 'hello', 'sleep', '1000'], { root });
    const running = await until('the container to run', async () => {
      const info = await inspect('fg-orphan', { root }).catch(() => undefined);
      return info?.State.Running && info.State.Pid > 0 && info;
    });
    process.kill(running.State.MonitorPid, 'SIGKILL');
    await child;
    // No ribo command in between: the container ends by itself.
    // (the watcher's clean-up starts Node: the harness's default minute, for a loaded machine)
    await until('the container process to end', async () => !processExists(running.State.Pid));
    const state = async () => JSON.parse(await readFile(path.join(root, 'containers', running.Id, 'state.json'), 'utf8')) as { status: string; exitCode: number; error: string };
    await until('the exit to be recorded', async () => (await state()).status === 'exited');
    expect((await state()).exitCode).toBe(137);
    expect((await state()).error).toContain('was killed');
    expect(await psRow('fg-orphan', { root })).toMatch(/Exited \(137\)/);
    expect(await processesMentioning(running.Id)).toEqual([]);
    await riboOk(['rm', 'fg-orphan'], { root });
  });
});

/** The command line the harness runs ribo with, for a test that needs to give it stdin. */
function riboCommandLine(args: string[], opts: RiboOptions): string[] {
  const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...(opts.driver ? [`RIBO_STORAGE_DRIVER=${opts.driver}`] : []), ...(opts.runtime ? [`RIBO_RUNTIME=${opts.runtime}`] : [])];
  const command = ['env', ...env, process.execPath, path.join(APP_DIR, 'bin/ribo'), '--root', opts.root, ...args];
  return E2E_USER ? ['runuser', '-u', E2E_USER, '--', ...command] : command;
}
