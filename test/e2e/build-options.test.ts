/** ribo build's options and multi-stage builds, checked in the images they make. */
import { execa } from 'execa';
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, blobPath, listLayer, makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';

const MULTISTAGE = `FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]

FROM base AS left
RUN cut -d' ' -f1 /proc/uptime > /left.when && sleep 5 && echo left > /left.txt && cut -d' ' -f1 /proc/uptime >> /left.when

FROM base AS right
RUN cut -d' ' -f1 /proc/uptime > /right.when && sleep 5 && echo right > /right.txt && cut -d' ' -f1 /proc/uptime >> /right.when

FROM base AS broken
RUN exit 9

FROM base
COPY --from=left /left.txt /left.when /
COPY --from=right /right.txt /right.when /
LABEL stage=final
CMD ["cat", "/left.txt", "/right.txt"]
`;

let root: string;
let context: string;

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({ 'Dockerfile.multi': MULTISTAGE, Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "plain"]\n' }, 'hello');
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

it('builds the stages the target needs, the independent ones at the same time, and skips the rest', async () => {
  const result = await riboOk(['build', '-f', path.join(context, 'Dockerfile.multi'), '-t', 'multi:1', '-t', 'multi:latest', '--label', 'team=build', '--iidfile', path.join(root, 'iid'), context], { root });
  expect(result.stderr).not.toContain('exit 9');
  const { stdout } = await riboOk(['run', '--rm', 'multi:1'], { root });
  expect(stdout).toBe('left\nright');
  // Both sleeping stages ran at once: each one's RUN started before the other's ended
  // (/proc/uptime is the host's clock, shared by both containers). The 5 s each sleeps is how late one
  // stage's container may start after the other's on a loaded machine: its start is not otherwise bounded.
  const when = await riboOk(['run', '--rm', 'multi:latest', 'cat', '/left.when', '/right.when'], { root });
  const [leftStart, leftEnd, rightStart, rightEnd] = when.stdout.split('\n').map((n) => Number(n));
  expect(leftStart).toBeLessThan(rightEnd!);
  expect(rightStart).toBeLessThan(leftEnd!);
  const image = await readImage(root, 'multi:1');
  expect(image.config.config.Labels).toEqual({ stage: 'final', team: 'build' });
  expect((await readFile(path.join(root, 'iid'), 'utf8')).trim()).toBe(result.stdout.trim());
  expect((await readImage(root, 'multi:latest')).manifest).toEqual(image.manifest);
});

it('builds only up to --target', async () => {
  const { stdout } = await riboOk(['build', '-f', path.join(context, 'Dockerfile.multi'), '--target', 'left', '-t', 'left-only', context], { root });
  expect(stdout).toMatch(/^sha256:/);
  const files = await riboOk(['run', '--rm', 'left-only', 'ls', '/'], { root });
  expect(files.stdout).toContain('left.txt');
  expect(files.stdout).not.toContain('right.txt');
});

it('fails on the stage the target needs and names it', async () => {
  const result = await ribo(['build', '-f', path.join(context, 'Dockerfile.multi'), '--target', 'broken', '-t', 'broken', context], { root });
  expect(result.exitCode).not.toBe(0);
  expect(result.stderr).toContain('Dockerfile.multi:12');
  expect(result.stderr).toContain('code 9');
});

it('prints only the image id with -q', async () => {
  const result = await riboOk(['build', '-q', '-t', 'plain', context], { root });
  expect(result.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(result.stderr).toBe('');
  expect((await riboOk(['run', '--rm', 'plain'], { root })).stdout).toBe('plain');
});

it('COPY keeps the mode of each file, setuid and setgid bits included, with and without --chown', async () => {
  const dir = await makeContext({
    Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY modes/ /modes/\nCOPY --chown=1000:1000 modes/ /owned/\n',
    'modes/suid': 'u', 'modes/sgid': 'g', 'modes/private': 'p', 'modes/sub/exec': 'x',
  }, 'hello');
  // The files are the user's own, as in a real checkout (chown first: it clears setuid bits).
  if (E2E_USER && process.getuid?.() === 0) await execa('chown', ['-R', E2E_USER, dir]);
  await chmod(path.join(dir, 'modes/suid'), 0o4755);
  await chmod(path.join(dir, 'modes/sgid'), 0o2711);
  await chmod(path.join(dir, 'modes/private'), 0o600);
  await chmod(path.join(dir, 'modes/sub/exec'), 0o750);
  try {
    await riboOk(['build', '-q', '-t', 'modes', dir], { root });
    const { stdout } = await riboOk(['run', '--rm', 'modes', '/bin/busybox', 'stat', '-c', '%n %a %u:%g', '/modes/suid', '/modes/sgid', '/modes/private', '/modes/sub/exec', '/owned/suid', '/owned/sub/exec'], { root });
    expect(stdout.split('\n')).toEqual([
      '/modes/suid 4755 0:0',
      '/modes/sgid 2711 0:0',
      '/modes/private 600 0:0',
      '/modes/sub/exec 750 0:0',
      '/owned/suid 4755 1000:1000',
      '/owned/sub/exec 750 1000:1000',
    ]);
  } finally {
    await execa('rm', ['-rf', dir]);
  }
});

it('names a context file it cannot read, with the fix', async () => {
  if (!E2E_USER || process.getuid?.() !== 0) return; // needs a file the test user cannot read
  const dir = await makeContext({ Dockerfile: 'FROM scratch\nCOPY secret.txt /\n', 'secret.txt': 'no' });
  await chmod(path.join(dir, 'secret.txt'), 0o600);
  try {
    const result = await ribo(['build', dir], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`Cannot read ${path.join(dir, 'secret.txt')}`);
    expect(result.stderr).toContain('.dockerignore');
    expect(result.stderr).not.toContain('internal error');
  } finally {
    await execa('rm', ['-rf', dir]);
  }
});

it('gives RUN steps --ulimit and --shm-size, as docker build does, and reruns a step when they change', async () => {
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox echo $(/bin/busybox date +%s%N) $(ulimit -Sn) $(ulimit -Hn) $(/bin/busybox df -k /dev/shm | /bin/busybox tail -1 | /bin/busybox awk \'{print $2}\') > /limits.txt"]\n' }, 'hello');
  try {
    const limits = async (args: string[]) => {
      await riboOk(['build', '-q', ...args, '-t', 'limits:1', ctx], { root });
      return (await riboOk(['run', '--rm', '--entrypoint', '/bin/busybox', 'limits:1', 'cat', '/limits.txt'], { root })).stdout.trim().split(' ');
    };
    const [when, soft, hard, shm] = await limits(['--ulimit', 'nofile=512:1024', '--shm-size', '128m']);
    expect([soft, hard, shm]).toEqual(['512', '1024', '131072']);
    // The same flags: the step is cached (the same time). Other ones: it runs again.
    expect((await limits(['--ulimit', 'nofile=512:1024', '--shm-size', '128m']))[0]).toBe(when);
    const other = await limits(['--ulimit', 'nofile=256:1024']);
    expect(other[0]).not.toBe(when);
    expect(other.slice(1)).toEqual(['256', '1024', '65536']);
    const bad = await ribo(['build', '--ulimit', 'nofile=9:8', ctx], { root });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--ulimit nofile=9:8: the soft limit is above the hard one/);
  } finally {
    await execa('rm', ['-rf', ctx]);
  }
});

it('adds --add-host entries to the /etc/hosts of RUN steps (none of it in the layer), and reruns a step when they change', async () => {
  const ctx = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox grep -E \'(db|gw)$\' /etc/hosts > /hosts.txt; /bin/busybox date +%s%N > /when.txt"]\n' }, 'hello');
  try {
    const built = async (args: string[]) => {
      await riboOk(['build', '-q', ...args, '-t', 'hosts:1', ctx], { root });
      const read = (file: string) => riboOk(['run', '--rm', '--entrypoint', '/bin/busybox', 'hosts:1', 'cat', file], { root }).then((r) => r.stdout.trim());
      return { hosts: await read('/hosts.txt'), when: await read('/when.txt') };
    };
    const first = await built(['--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway']);
    expect(first.hosts.split('\n')).toEqual(['10.1.2.3\tdb', '127.0.0.1\tgw']);
    expect((await built(['--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway'])).when).toBe(first.when);
    const other = await built(['--add-host', 'db:10.9.9.9']);
    expect(other.when).not.toBe(first.when);
    expect(other.hosts).toBe('10.9.9.9\tdb');
    // The step's /etc/hosts is ribo's mount, not the image's: the RUN layer holds only what the step wrote.
    const { manifest } = await readImage(root, 'hosts:1');
    const runLayer = manifest.layers[manifest.layers.length - 1] as { digest: string };
    expect((await listLayer(blobPath(root, runLayer.digest))).map((e) => e.path).sort()).toEqual(['hosts.txt', 'when.txt']);
  } finally {
    await execa('rm', ['-rf', ctx]);
  }
});
