/**
 * `ribo run`'s flags as an unprivileged user sees them: what the container
 * gets (env, workdir, user, mounts, network, terminal, limits), checked from
 * inside the container and on the host.
 */
import { execa } from 'execa';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk, type RiboOptions } from './harness.js';

const asRoot = process.getuid?.() === 0;
let root: string;
let hostDir: string;
let contexts: string[] = [];
const opts = (extra: Partial<RiboOptions> = {}): RiboOptions => ({ root, ...extra });

beforeAll(async () => {
  root = await makeStore();
  hostDir = await makeStore();
  const hello = await makeContext({}, 'hello');
  const users = await makeContext({
    Dockerfile: [
      'FROM hello',
      "RUN mkdir -p /etc && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group && echo 'staff:x:50:app' >> /etc/group",
      'ENTRYPOINT ["echo", "from-entrypoint"]',
      'CMD ["from-cmd"]',
    ].join('\n'),
  });
  contexts = [hello, users];
  await riboOk(['build', '-t', 'hello', hello], opts());
  await riboOk(['build', '-t', 'users', users], opts());
}, 300_000);

afterAll(async () => {
  await removeStore(root);
  await removeStore(hostDir);
  for (const dir of contexts) await execa('rm', ['-rf', dir]);
});

/** Runs `sh -c script` in the hello image with the given flags; fails unless it exits 0. */
async function shell(flags: string[], script: string, extra: Partial<RiboOptions> = {}): Promise<string> {
  return (await riboOk(['run', '--rm', ...flags, 'hello', 'sh', '-c', script], opts(extra))).stdout;
}

describe('process', () => {
  it('exits with the container\'s exit code', async () => {
    expect((await ribo(['run', '--rm', 'hello', 'sh', '-c', 'exit 7'], opts())).exitCode).toBe(7);
    expect((await ribo(['run', '--rm', 'hello', 'false'], opts())).exitCode).toBe(1);
    expect((await ribo(['run', '--rm', 'hello', 'true'], opts())).exitCode).toBe(0);
  });

  it('sets variables from --env-file, then -e, and copies -e NAME from ribo\'s environment', async () => {
    const envFile = path.join(hostDir, 'app.env');
    await writeFile(envFile, '# settings\nMODE=file\nGREETING=hello world\n\nFROM_OUTSIDE\n');
    await chmod(envFile, 0o644);
    const out = await shell(['--env-file', envFile, '-e', 'MODE=flag', '-e', 'FROM_OUTSIDE', '-e', 'EMPTY='], 'echo "$MODE|$GREETING|$FROM_OUTSIDE|${EMPTY-unset}|$GREETING_FILE"', { env: { FROM_OUTSIDE: 'outer' } });
    expect(out.trim()).toBe('flag|hello world|outer||/app/greeting.txt');
  });

  it('runs in the -w directory, creating it when the image lacks it', async () => {
    expect((await shell(['-w', '/srv/new/dir'], 'pwd')).trim()).toBe('/srv/new/dir');
    expect((await shell([], 'pwd')).trim()).toBe('/app');
  });

  it('runs as -u USER[:GROUP], by name from the image or by number', async () => {
    const id = async (user: string) => (await riboOk(['run', '--rm', '-u', user, '--entrypoint', 'id', 'users'], opts())).stdout.trim();
    // Supplementary groups are the /etc/group entries listing the user, as with docker.
    expect(await id('app')).toMatch(/^uid=1000\(app\) gid=1000\(app\) groups=.*50\(staff\)/);
    expect(await id('app:staff')).toMatch(/^uid=1000\(app\) gid=50\(staff\)/);
    expect(await id('4321:99')).toMatch(/^uid=4321 gid=99\b/);
    const missing = await ribo(['run', '--rm', '-u', 'nobody-here', 'users'], opts());
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain('"nobody-here" is not in the image\'s /etc/passwd');
  });

  it('replaces the entrypoint with --entrypoint (dropping CMD) and clears it with --entrypoint ""', async () => {
    expect((await riboOk(['run', '--rm', 'users'], opts())).stdout.trim()).toBe('from-entrypoint from-cmd');
    expect((await riboOk(['run', '--rm', 'users', 'given'], opts())).stdout.trim()).toBe('from-entrypoint given');
    expect((await riboOk(['run', '--rm', '--entrypoint', 'hostname', '--hostname', 'box1', 'users'], opts())).stdout.trim()).toBe('box1');
    expect((await riboOk(['run', '--rm', '--entrypoint', '', 'users', 'echo', 'plain'], opts())).stdout.trim()).toBe('plain');
  });

  it('gives stdin only with -i', async () => {
    const withI = await execa('sh', ['-c', 'echo piped | "$@"', 'sh', ...(await riboCommand(['run', '--rm', '-i', 'hello', 'cat']))]);
    expect(withI.stdout.trim()).toBe('piped');
    const without = await execa('sh', ['-c', 'echo piped | "$@"', 'sh', ...(await riboCommand(['run', '--rm', 'hello', 'cat']))]);
    expect(without.stdout.trim()).toBe('');
  });

  it.each(['crun', 'runc'] as const)('-t gives the container a terminal (%s)', async (runtime) => {
    const command = await riboCommand(['run', '--rm', '-t', 'hello', 'sh', '-c', 'tty; [ -t 0 ] && [ -t 1 ] && echo both-terminals'], runtime);
    const quoted = command.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' ');
    const result = await execa('script', ['-qec', quoted, '/dev/null'], { reject: false });
    expect(result.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(result.stdout).toContain('both-terminals');
    const noTerminal = await ribo(['run', '--rm', '-t', 'hello', 'true'], opts());
    expect(noTerminal.exitCode).toBe(2);
    expect(noTerminal.stderr).toContain('not a terminal');
  });

  it('--init runs tini as PID 1 and passes the exit code through', async () => {
    expect((await shell(['--init'], 'cat /proc/1/cmdline | tr "\\0" " "')).trim()).toBe('/dev/init -- sh -c cat /proc/1/cmdline | tr "\\0" " "');
    expect((await ribo(['run', '--rm', '--init', 'hello', 'sh', '-c', 'exit 5'], opts())).exitCode).toBe(5);
  });
});

/** The command line the harness would run, for piping and script(1). */
async function riboCommand(args: string[], runtime?: string, as: { root?: string; user?: string } = {}): Promise<string[]> {
  const app = process.env.RIBO_E2E_APP ?? path.resolve('.');
  const env = [`PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...(runtime ? [`RIBO_RUNTIME=${runtime}`] : [])];
  const ribo = [process.execPath, path.join(app, 'bin/ribo'), '--root', as.root ?? root, ...args];
  if (E2E_USER && asRoot && as.user !== 'root') return ['runuser', '-u', E2E_USER, '--', 'env', `HOME=/home/${E2E_USER}`, ...env, ...ribo];
  return ['env', ...env, ...ribo];
}

describe('mounts and file systems', () => {
  it.each(['crun', 'runc'] as const)('binds host dirs read-write and read-only (%s)', async (runtime) => {
    const shared = path.join(hostDir, `shared-${runtime}`);
    await mkdir(shared);
    await writeFile(path.join(shared, 'in.txt'), 'from the host\n');
    const owner = await stat(hostDir);
    await chown(shared, owner.uid, owner.gid);
    await chown(path.join(shared, 'in.txt'), owner.uid, owner.gid);
    const out = await shell(['-v', `${shared}:/rw`, '-v', `${shared}:/ro:ro`], 'cat /rw/in.txt; echo from-container > /rw/out.txt; echo x > /ro/refused.txt || echo ro-refused', { runtime });
    expect(out).toContain('from the host');
    expect(out).toContain('ro-refused');
    expect(await readFile(path.join(shared, 'out.txt'), 'utf8')).toBe('from-container\n');
    expect((await stat(path.join(shared, 'out.txt'))).uid).toBe(owner.uid);
    await expect(stat(path.join(shared, 'refused.txt'))).rejects.toThrow();
  });

  it('--mount binds and tmpfs', async () => {
    const out = await shell(['--mount', `type=bind,src=${hostDir},dst=/in,readonly`, '--mount', 'type=tmpfs,dst=/scratch,tmpfs-size=2m'], 'touch /in/x || echo bind-ro; grep " /scratch " /proc/mounts; echo data > /scratch/f && cat /scratch/f');
    expect(out).toContain('bind-ro');
    expect(out).toMatch(/^tmpfs \/scratch tmpfs rw,nosuid,nodev,.*size=2048k/m);
    expect(out).toContain('data');
  });

  it('stops with a clear error when a host path is missing', async () => {
    const missing = await ribo(['run', '--rm', '-v', '/no/such/dir:/data', 'hello', 'true'], opts());
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('/no/such/dir does not exist');
  });

  it('--read-only refuses writes to the image but not to mounts', async () => {
    const out = await shell(['--read-only', '--mount', 'type=tmpfs,dst=/tmp', '--tmpfs', '/run:size=1m'], 'echo x > /app/new || echo root-refused; echo y > /tmp/ok && echo tmp-ok; echo z > /run/ok && grep " /run " /proc/mounts');
    expect(out).toContain('root-refused');
    expect(out).toContain('tmp-ok');
    expect(out).toMatch(/^tmpfs \/run tmpfs rw,nosuid,nodev,noexec,.*size=1024k/m);
  });
});

describe('network and hostname', () => {
  it.each(['none', 'private'])('--network %s shows only lo', async (mode) => {
    const out = await shell(['--network', mode], "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    expect(out.trim().split('\n')).toEqual(['lo']);
  });

  it('--network host shares the host\'s interfaces', async () => {
    const host = (await readFile('/proc/net/dev', 'utf8')).split('\n').slice(2).filter(Boolean).length;
    const out = await shell(['--network', 'host'], 'tail -n +3 /proc/net/dev | wc -l');
    expect(Number(out.trim())).toBe(host);
  });

  it('--hostname sets the host name; by default it is the container id', async () => {
    expect((await shell(['--hostname', 'web-1'], 'hostname')).trim()).toBe('web-1');
    expect((await shell([], 'hostname')).trim()).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('security', () => {
  it('has podman\'s default capabilities; --cap-drop and --cap-add change them', async () => {
    expect(await shell([], 'touch /f && chown 123 /f && stat -c %u /f')).toContain('123');
    const dropped = await shell(['--cap-drop', 'CHOWN'], 'touch /f; chown 123 /f || echo chown-refused');
    expect(dropped).toContain('chown-refused');
    // CAP_CHOWN is bit 0, CAP_NET_ADMIN bit 12.
    expect((await shell(['--cap-drop', 'ALL', '--cap-add', 'chown'], 'grep CapEff /proc/self/status')).trim()).toMatch(/CapEff:\s+0+1$/);
    // podman's set: docker's (a80425fb) without MKNOD (bit 27), NET_RAW (13) and AUDIT_WRITE (29).
    expect((await shell([], 'grep CapEff /proc/self/status')).trim()).toBe('CapEff:\t00000000800405fb');
  });

  it('applies the default seccomp profile, lifts it with seccomp=unconfined, sets no-new-privileges on request', async () => {
    // Which syscalls it refuses: test/e2e/run-security.test.ts.
    const confined = await shell([], 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status');
    expect(confined).toMatch(/Seccomp:\s+2/);
    expect(confined).toMatch(/NoNewPrivs:\s+0/);
    const open = await shell(['--security-opt', 'seccomp=unconfined', '--security-opt', 'no-new-privileges'], 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status');
    expect(open).toMatch(/Seccomp:\s+0/);
    expect(open).toMatch(/NoNewPrivs:\s+1/);
  });

  it('confines build steps (RUN) with the seccomp profile and BuildKit\'s (docker\'s) capabilities', async () => {
    const context = await makeContext({ Dockerfile: 'FROM hello\nRUN grep -E "^(Seccomp|CapEff):" /proc/self/status > /build-security.txt\n' });
    contexts.push(context);
    await riboOk(['build', '-t', 'confined-build', context], opts());
    const out = (await riboOk(['run', '--rm', 'confined-build', 'cat', '/build-security.txt'], opts())).stdout;
    expect(out).toMatch(/Seccomp:\s+2/);
    expect(out).toMatch(/CapEff:\s+00000000a80425fb/);
  });

  it('masks and write-protects /proc paths as docker does', async () => {
    const out = await shell([], 'wc -c < /proc/timer_list; grep " /proc/sys " /proc/mounts');
    expect(out.split('\n')[0]!.trim()).toBe('0');
    expect(out).toMatch(/^proc \/proc\/sys proc ro,/m);
  });

  it('takes a seccomp profile file in docker\'s format', async () => {
    const profile = path.join(hostDir, 'no-mkdir.json');
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: [] }], syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }));
    await chmod(profile, 0o644);
    const out = await shell(['--security-opt', `seccomp=${profile}`], 'mkdir /made || echo mkdir-refused');
    expect(out).toContain('mkdir-refused');
  });
});

describe('cgroup limits', () => {
  const hungry = 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived ${#x}';

  it('rootless: warns once that --memory, --cpus and --pids-limit cannot be enforced', async () => {
    const result = await ribo(['run', '--rm', '--memory', '32m', '--cpus', '1', '--pids-limit', '10', 'hello', 'true'], opts());
    expect(result.exitCode).toBe(0);
    const warnings = result.stderr.split('\n').filter((l) => l.includes('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('--memory, --cpus, --pids-limit not enforced');
  });

  describe('as root', () => {
    let rootStore: string;
    const asRootOpts = (runtime: 'crun' | 'runc') => ({ root: rootStore, asUser: 'root', runtime });

    beforeAll(async () => {
      if (!asRoot) return;
      rootStore = await makeStore('root');
      await riboOk(['build', '-t', 'hello', contexts[0]!], { root: rootStore, asUser: 'root' });
    }, 300_000);

    afterAll(async () => {
      if (asRoot) await removeStore(rootStore);
    });

    (asRoot ? it.each(['crun', 'runc'] as const) : it.skip.each(['crun', 'runc'] as const))('--memory is enforced: a process over the limit is OOM-killed (%s)', async (runtime) => {
      const killed = await ribo(['run', '--rm', '--memory', '32m', 'hello', 'sh', '-c', hungry], asRootOpts(runtime));
      expect(killed.exitCode).toBe(137);
      expect(killed.stdout).not.toContain('survived');
      expect(killed.stderr).not.toContain('warning');
      const fits = await riboOk(['run', '--rm', '--memory', '512m', 'hello', 'sh', '-c', hungry], asRootOpts(runtime));
      expect(fits.stdout).toContain('survived 200000000');
    });

    // As with docker: the container's own cgroup tree at /sys/fs/cgroup, where a program (the JVM) reads its limits.
    (asRoot ? it.each(['crun', 'runc'] as const) : it.skip.each(['crun', 'runc'] as const))('the container sees its --memory limit under /sys/fs/cgroup (%s)', async (runtime) => {
      const limit = 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max';
      const shown = await riboOk(['run', '--rm', '--memory', '64m', 'hello', 'sh', '-c', limit], asRootOpts(runtime));
      expect(shown.stdout.trim()).toBe(String(64 * 1024 * 1024));
    });

    // runc keeps a device cgroup (deny all, then its defaults and --device's rules); rootless, and with crun here, the node's mode decides.
    (asRoot ? it : it.skip)('--device PERMISSIONS are enforced by runc\'s device cgroup', async () => {
      const open = 'exec 3</dev/fuse && echo reads; exec 4<>/dev/fuse && echo writes';
      const readOnly = await ribo(['run', '--rm', '--device', '/dev/fuse:r', 'hello', 'sh', '-c', open], asRootOpts('runc'));
      expect(readOnly.stdout.trim()).toBe('reads');
      expect(readOnly.stderr).toMatch(/Operation not permitted/);
      expect((await riboOk(['run', '--rm', '--device', '/dev/fuse', 'hello', 'sh', '-c', open], asRootOpts('runc'))).stdout.trim()).toBe('reads\nwrites');
    });

    (asRoot ? it : it.skip)('--cpu-shares, --cpuset-cpus, --memory-reservation and --memory-swap reach the container\'s cgroup', async () => {
      const script = 'c=$(cat /proc/self/cgroup); cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/memory/memory.soft_limit_in_bytes; cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo no-swap-accounting';
      for (const runtime of ['crun', 'runc'] as const) {
        const out = (await riboOk(['run', '--rm', '--cpu-shares', '512', '--cpuset-cpus', '0', '--memory', '64m', '--memory-reservation', '32m', '--memory-swap', '96m', 'hello', 'sh', '-c', script], asRootOpts(runtime))).stdout.trim().split('\n');
        expect({ runtime, out: out.slice(0, 3) }).toEqual({ runtime, out: ['512', '0', String(32 * 1024 * 1024)] });
        expect(['no-swap-accounting', String(96 * 1024 * 1024)]).toContain(out[3]);
      }
    });

    (asRoot ? it : it.skip)('--pids-limit and --cpus are enforced', async () => {
      // The forks run in a subshell that reports to a file, so the shell that counts the failures
      // is not itself racing the sleeps for the last pids (sh, subshell and three sleeps fill five).
      const forkEight = '(for i in 1 2 3 4 5 6 7 8; do sleep 2 & done) 2>/forks; grep -c "can.t fork" /forks';
      const forks = (await riboOk(['run', '--rm', '--pids-limit', '5', 'hello', 'sh', '-c', forkEight], asRootOpts('crun'))).stdout;
      expect(Number(forks.trim())).toBeGreaterThan(0);
      // The container's cgroup, read from the host while it runs (its id is its default host name): it
      // runs until the test, having read it, ends its stdin, however long that takes on a loaded machine.
      const running = execa('sh', ['-c', '"$@"', 'sh', ...(await riboCommand(['run', '--rm', '-i', '--cpus', '0.5', 'hello', 'sh', '-c', 'hostname; cat > /dev/null'], 'crun', { root: rootStore, user: 'root' }))], { stdin: 'pipe' });
      const id = await new Promise<string>((resolve) => running.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
      const quota = await readFile(`/sys/fs/cgroup/cpu/ribo-${id}/cpu.cfs_quota_us`, 'utf8').finally(() => running.stdin!.end());
      await running;
      expect(quota.trim()).toBe('50000');
    });
  });
});
