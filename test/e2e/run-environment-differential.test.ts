/**
 * What a process finds in a container (its environment, user, limits, /etc
 * files, mounts, /dev), differentially: the same busybox image imported into
 * ribo and into rootless `podman run` (runc, overlay), the same commands, the
 * outputs compared probe by probe after the parts that must differ (ids,
 * addresses, timestamps, the runtime's own extras) are normalised.
 *
 * Where podman departs from docker and ribo follows docker, the test asserts
 * docker's behaviour for ribo and names the difference (docs/cli.md,
 * "Differences from podman"). Planned runs (bin/run-plan.sh) must give the
 * same answers as the Node path.
 */
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BUSYBOX, lookupUser, makeOwnedDir, onPath, runAs, type User } from '../differential/cases.js';
import { rootlessPodman, type PodmanPeer } from '../differential/podman-peer.js';
import { E2E_USER, PROJECT_ROOT, makeStore, removeStore, ribo, riboOk } from './harness.js';

const APP_DIR = process.env.RIBO_E2E_APP ?? PROJECT_ROOT;
const IMAGE = 'localhost/runenv:1';
/** The same image under another name, for the planned-run comparison (plans are per image). */
const PLAN_IMAGE = 'localhost/runenv-plan:1';

/** Each probe: a shell snippet run in the container; its output is compared on its own. */
const PROBES: Record<string, string> = {
  env: 'env | sort',
  id: 'id',
  ids: 'id -u; id -g',
  groups: 'id -G',
  umask: 'umask',
  pwd: 'pwd',
  limits: 'ulimit -a | grep -v -e "open files" -e "max user processes"',
  nofile: 'echo $(ulimit -Sn) $(ulimit -Hn)',
  nproc: 'echo $(ulimit -Su) $(ulimit -Hu)',
  status: "grep -E '^(Umask|Uid|Gid|SigBlk|SigIgn|SigCgt|Threads):' /proc/self/status",
  pid1: "tr '\\0' ' ' < /proc/1/cmdline; echo",
  hosts: 'cat /etc/hosts',
  hostname: 'echo "file=[$(cat /etc/hostname)] hostname=[$(hostname)] domain=[$(hostname -d)]"',
  resolv: 'cat /etc/resolv.conf',
  mounts: 'cat /proc/self/mountinfo',
  dev: 'ls -la /dev',
  shmSize: 'df -k /dev/shm | tail -1',
  writable: 'for d in / /etc /tmp /run /var/tmp /dev /dev/shm /dev/mqueue; do touch $d/.probe 2>/dev/null && echo "$d rw" || echo "$d ro"; done',
  stdio: 'echo to-stdout > /dev/stdout; echo to-stderr > /dev/stderr; echo done',
  sysctls: 'cat /proc/sys/net/core/somaxconn /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range',
  devices: 'for d in /dev/fuse /dev/myfuse; do [ -c $d ] && ls -la $d; done; if [ -c /dev/fuse ]; then exec 3<>/dev/fuse && echo fuse opens; else echo no fuse; fi',
  // The address families of the default network: /proc/net/route's default (destination 0), if_inet6's global scope (00).
  // The default network's IPv4 address and default route (its gateway as /proc/net/route writes it).
  net4: 'ip -4 -o addr show scope global | while read -r n dev family address rest; do echo "$family $address"; done; while read -r i d g rest; do if [ "$d" = 00000000 ]; then echo "default via $g"; fi; done < /proc/net/route',
  families: 'r=no; while read -r i d rest; do [ "$d" = 00000000 ] && r=yes; done < /proc/net/route; n=0; [ -e /proc/net/if_inet6 ] && while read -r a i l s rest; do [ "$s" = 00 ] && n=$((n+1)); done < /proc/net/if_inet6; echo "ipv4 default route: $r, global ipv6 addresses: $n"',
};
type Probe = keyof typeof PROBES;

/**
 * /bin/probe in the image: prints each named probe's output after a marker
 * line. A file in the image keeps the command line plain words, as a planned
 * run needs (bin/run-plan.sh takes no quotes or backslashes).
 */
function probeScript(): string {
  const cases = Object.entries(PROBES).map(([name, snippet]) => `    ${name}) { ${snippet}; } 2>&1 ;;`);
  return ['#!/bin/sh', 'for p in "$@"; do', '  echo "@@probe $p"', '  case $p in', ...cases, '    *) echo "unknown probe $p"; exit 2 ;;', '  esac', 'done', ''].join('\n');
}

/** The script's output cut at its markers, the container's host name (and full id) replaced by <host>. */
function sections(output: string): Record<string, string> {
  const text = output.replace(/\r/g, '');
  const parts: Record<string, string> = {};
  let name = '';
  for (const line of text.split('\n')) {
    const marker = /^@@probe (\w+)$/.exec(line);
    if (marker) parts[(name = marker[1]!)] = '';
    else if (name) parts[name] += `${line}\n`;
  }
  const host = /hostname=\[([^\]]+)\]/.exec(parts.hostname ?? '')?.[1] ?? /^HOSTNAME=(.+)$/m.exec(parts.env ?? '')?.[1];
  for (const key of Object.keys(parts)) {
    let value = parts[key]!.trimEnd();
    if (host) value = value.split(host).join('<host>');
    parts[key] = value.replace(/<host>[0-9a-f]{52}/g, '<host>');
  }
  return parts;
}

/**
 * mountinfo as "mount point" -> "fstype ro|rw nosuid nodev noexec [volatile]" (the options that matter),
 * sorted by mount point. volatile: an overlay whose syncs are skipped, as both engines mount a --rm
 * container's root (the kernel shows it as volatile or fsync=volatile).
 */
function mountTable(mountinfo: string): Record<string, string> {
  const table: Record<string, string> = {};
  for (const line of mountinfo.split('\n').filter(Boolean)) {
    const [before, after] = line.split(' - ') as [string, string];
    const fields = before.split(' ');
    const options = fields[5]!.split(',');
    const flags = ['nosuid', 'nodev', 'noexec'].filter((f) => options.includes(f));
    const [fstype, , superOptions = ''] = after.split(' ');
    const volatile = fstype === 'overlay' && superOptions.split(',').some((o) => o === 'volatile' || o === 'fsync=volatile');
    table[fields[4]!] = [fstype!, options.includes('ro') ? 'ro' : 'rw', ...flags, ...(volatile ? ['volatile'] : [])].join(' ');
  }
  return Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b)));
}

/** Masked paths (docker's list): only whether they are covered; the runtime decides the cover's options. */
const MASKED = ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
/** Read-only paths: only whether they are read-only (runc adds nosuid/nodev/noexec to the remount, crun does not). */
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
/** Host devices bound in: present or not (crun binds them nosuid,noexec, runc without). */
const DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/console'];

/** A mount table with the runtime's choices taken out, for comparing one engine with the other. */
function comparableMounts(table: Record<string, string>, engine: 'ribo' | 'podman'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [point, value] of Object.entries(table)) {
    // podman's own: its container marker file and /sys/dev/block it masks beyond docker's list.
    if (engine === 'podman' && (point === '/run/.containerenv' || point === '/sys/dev/block')) continue;
    if (MASKED.includes(point)) out[point] = 'masked';
    else if (DEVICES.includes(point)) out[point] = 'device';
    else if (READONLY.includes(point)) out[point] = value.split(' ')[1]!;
    // podman mounts /dev noexec; docker (and ribo, whose --init lives in /dev) does not.
    else if (engine === 'podman' && point === '/dev') out[point] = value.replace(' noexec', '');
    else out[point] = value;
  }
  return out;
}

/** `ls -la` lines as "mode owner group name[ -> target]", without ".", "..", sizes and times. */
function devListing(listing: string): string[] {
  return listing.split('\n').filter((l) => /^[-bcdlps][rwxsStT-]{9}/.test(l)).map((l) => {
    const f = l.split(/\s+/);
    const isDevice = /^[bc]/.test(f[0]!);
    const name = f.slice(isDevice ? 9 : 8).join(' ');
    return `${f[0]} ${f[2]} ${f[3]} ${name}`;
  }).filter((l) => !/ \.\.?$/.test(l))
    // crun makes /dev/core -> /proc/kcore always, runc only where the host has /proc/kcore.
    .filter((l) => !/ core -> \/proc\/kcore$/.test(l));
}

/** /etc/hosts as its lines' names (addresses differ between the engines' networks). */
function hostNames(hosts: string): string[][] {
  return hosts.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.trim().split(/\s+/).slice(1));
}

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

let root: string;
let work: string;
let rootfsTar: string;
let envFile: string;
let user: User | undefined;

/** `ribo run --rm FLAGS IMAGE sh -c SCRIPT(probes)`, cut into probes. */
async function ours(flags: string[], probes: Probe[], image = IMAGE): Promise<Record<string, string>> {
  return sections((await riboOk(['run', '--rm', ...flags, image, 'probe', ...probes], { root })).stdout);
}

/** Runs `words` as the e2e user under script(1), which gives it a terminal; returns what it printed. */
async function inTerminal(words: string[]): Promise<string> {
  const result = await runAs(user, 'script', ['-qec', words.map(shellQuote).join(' '), '/dev/null']);
  if (result.exitCode !== 0) throw new Error(`${words.join(' ')} exited ${result.exitCode}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

const riboWords = (args: string[]) => ['env', `PATH=${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, path.join(APP_DIR, 'bin/ribo'), '--root', root, ...args];

beforeAll(async () => {
  user = E2E_USER ? await lookupUser(E2E_USER) : undefined;
  root = await makeStore();
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-runenv-'));
  // A static busybox with every applet, and the accounts the probes use (root, nobody; uid 1000 has none).
  const rootfs = path.join(work, 'rootfs');
  for (const dir of ['bin', 'etc', 'root', 'run', 'tmp', 'var/tmp']) await mkdir(path.join(rootfs, dir), { recursive: true });
  await cp(BUSYBOX, path.join(rootfs, 'bin/busybox'));
  const { stdout: applets } = await runAs(undefined, BUSYBOX, ['--list']);
  for (const applet of applets.split('\n').filter((a) => a && a !== 'busybox')) await symlink('busybox', path.join(rootfs, 'bin', applet));
  await writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nwheel:x:10:root\nnobody:x:65534:\n');
  await writeFile(path.join(rootfs, 'bin/probe'), probeScript(), { mode: 0o755 });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  await chmod(path.join(rootfs, 'var/tmp'), 0o1777);
  rootfsTar = path.join(work, 'rootfs.tar');
  const tarred = await runAs(undefined, 'tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-cf', rootfsTar, '.']);
  if (tarred.exitCode !== 0) throw new Error(tarred.stderr);
  envFile = path.join(work, 'env.list');
  await writeFile(path.join(work, 'env.list'), '# a comment\nFROM_FILE=one\nSPACED=two words\n\nHOME=/from-file\n');
  await runAs(undefined, 'chmod', ['-R', 'a+rX', work]);
  await riboOk(['import', rootfsTar, IMAGE], { root });
  await riboOk(['import', rootfsTar, PLAN_IMAGE], { root });
}, 300_000);

afterAll(async () => {
  await removeStore(root);
  await rm(work, { recursive: true, force: true });
});

describe('ribo alone: docker\'s behaviour where podman differs', () => {
  it('sets HOSTNAME and HOME, TERM only with a terminal, and no container= variable', async () => {
    const plain = await ours([], ['env', 'hostname']);
    expect(plain.env).toContain('HOSTNAME=<host>');
    expect(plain.env).toContain('HOME=/root');
    expect(plain.env).not.toMatch(/^TERM=/m);
    expect(plain.env).not.toMatch(/^container=/m);
    expect(plain.hostname).toMatch(/^file=\[<host>\] hostname=\[<host>\] domain=\[\]$/);
    // A uid the image's passwd does not list gets HOME=/ (docker's default), and no passwd entry (podman adds one).
    const unlisted = await ours(['-u', '1000'], ['env', 'id']);
    expect(unlisted.env).toMatch(/^HOME=\/$/m);
    expect(unlisted.id).toBe('uid=1000 gid=0(root) groups=0(root)');
  }, 120_000);

  it('lists the primary group among the process\'s groups (docker since CVE-2022-36109)', async () => {
    expect((await ours([], ['groups'])).groups).toBe('0 10');
    expect((await ours(['-u', 'nobody'], ['groups'])).groups).toBe('65534');
  }, 120_000);

  it('keeps the caller\'s process limit (docker keeps its daemon\'s; podman sets its own) and open files soft = hard', async () => {
    const caller = await runAs(user, BUSYBOX, ['sh', '-c', `${PROBES.nofile}; ${PROBES.nproc}`]);
    const [, hardFiles, processes] = /^\S+ (\S+)\n(.+)$/.exec(caller.stdout.trim())!;
    const out = await ours([], ['nofile', 'nproc']);
    expect(out.nproc).toBe(processes);
    expect(out.nofile).toBe(`${hardFiles} ${hardFiles}`);
  }, 120_000);

  it('sizes /dev/shm at docker\'s 64 MiB and leaves /dev executable (--init lives there)', async () => {
    const out = await ours([], ['shmSize', 'mounts']);
    expect(out.shmSize).toMatch(/^shm\s+65536\s/);
    expect(mountTable(out.mounts!)['/dev']).toBe('tmpfs rw nosuid');
  }, 120_000);

  it('--read-only leaves only /dev, /dev/shm and /dev/mqueue writable, as docker (podman adds tmpfs /tmp, /run, /var/tmp)', async () => {
    expect((await ours(['--read-only'], ['writable'])).writable!.split('\n')).toEqual([
      '/ ro', '/etc ro', '/tmp ro', '/run ro', '/var/tmp ro', '/dev rw', '/dev/shm rw', '/dev/mqueue rw',
    ]);
  }, 120_000);

  it('--group-add: the primary group first, then the image\'s and the added ones, for exec\'d processes too; an unknown name is an error', async () => {
    expect((await ours(['--group-add', '1234'], ['groups'])).groups).toBe('0 10 1234');
    const name = `runenv-groups-${process.pid}`;
    await riboOk(['run', '-d', '--name', name, '--group-add', '1234', '--ulimit', 'nofile=100:200', '--ulimit', 'core=-1', '--shm-size', '32m', IMAGE, 'sleep', '300'], { root });
    try {
      const [info] = JSON.parse((await riboOk(['inspect', '--type', 'container', name], { root })).stdout) as Array<{ HostConfig: Record<string, unknown> }>;
      expect(info!.HostConfig).toMatchObject({ GroupAdd: ['1234'], ShmSize: 32 * 1024 * 1024, Ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }, { Name: 'nofile', Soft: 100, Hard: 200 }] });
      // exec'd processes get the container's limits too (the runtime config's unlimited read back and written again).
      expect((await riboOk(['exec', name, 'sh', '-c', 'echo $(ulimit -Sn) $(ulimit -Hn) $(ulimit -c)'], { root })).stdout.trim()).toBe('100 200 unlimited');
      expect((await riboOk(['exec', name, 'id', '-G'], { root })).stdout.trim()).toBe('0 10 1234');
      expect((await riboOk(['exec', '-u', 'nobody', name, 'id', '-G'], { root })).stdout.trim()).toBe('65534 1234');
    } finally {
      await ribo(['rm', '-f', name], { root });
    }
    const unknown = await ribo(['run', '--rm', '--group-add', 'nosuch', IMAGE, 'true'], { root });
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toMatch(/--group-add nosuch: the group is not in the image's \/etc\/group/);
  }, 120_000);

  it('--cidfile gets the container\'s full id (kept after --rm, as docker and podman); an existing file is refused before anything is made', async () => {
    const cidfile = path.join(work, `cid-${process.pid}`);
    await runAs(undefined, 'chmod', ['a+rwx', work]);
    const run = await riboOk(['run', '--rm', '--cidfile', cidfile, IMAGE, 'cat', '/etc/hostname'], { root });
    const id = (await readFile(cidfile, 'utf8'));
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(id.slice(0, 12)).toBe(run.stdout.trim());
    const before = (await riboOk(['ps', '-a', '-q'], { root })).stdout;
    const again = await ribo(['run', '--rm', '--cidfile', cidfile, IMAGE, 'true'], { root });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/--cidfile .*exists already/);
    expect((await riboOk(['ps', '-a', '-q'], { root })).stdout).toBe(before);
    expect(await readFile(cidfile, 'utf8')).toBe(id);
  }, 120_000);

  (E2E_USER ? it : it.skip)('--ulimit above the hard limit ribo runs with is refused rootless, naming the limit and its most', async () => {
    const hard = Number((await runAs(user, BUSYBOX, ['sh', '-c', 'ulimit -Hn'])).stdout.trim());
    const refused = await ribo(['run', '--rm', '--ulimit', `nofile=1024:${hard + 1}`, IMAGE, 'true'], { root });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`--ulimit nofile: a rootless container cannot get a hard limit of ${hard + 1}, above the ${hard} ribo runs with; give at most nofile=1024:${hard}`);
    expect((await ours(['--ulimit', `nofile=1024:${hard}`], ['nofile'])).nofile).toBe(`1024 ${hard}`);
  }, 120_000);

  it('--device gives the host\'s node, at its own path or another, usable as the file\'s mode allows', async () => {
    const out = await ours(['--device', '/dev/fuse', '--device', '/dev/fuse:/dev/myfuse:rw'], ['devices']);
    for (const node of ['/dev/fuse', '/dev/myfuse']) expect(out.devices).toMatch(new RegExp(`^crw-rw-rw-\\s+1\\s+\\S+\\s+\\S+\\s+10,\\s+229 .* ${node}$`, 'm'));
    expect(out.devices).toMatch(/fuse opens$/);
    expect((await ours([], ['devices'])).devices).toBe('no fuse');
  }, 120_000);

  it('--sysctl sets the container\'s own namespaced values (net.* refused with the host\'s network)', async () => {
    const out = await ours(['--sysctl', 'net.core.somaxconn=1000', '--sysctl', 'kernel.shmmni=2000', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=80'], ['sysctls']);
    expect(out.sysctls!.split('\n')).toEqual(['1000', '2000', '80', '0\t0']);
    const refused = await ribo(['run', '--rm', '--network', 'host', '--sysctl', 'net.core.somaxconn=1000', IMAGE, 'true'], { root });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/net\.\* sysctls cannot be set with the host's network/);
  }, 120_000);

  it('--init runs the init as pid 1 in front of the command', async () => {
    const out = await ours(['--init'], ['pid1']);
    expect(out.pid1).toBe('/dev/init -- probe pid1');
    const comm = await riboOk(['run', '--rm', '--init', IMAGE, 'sh', '-c', 'cat /proc/1/comm; echo $$'], { root });
    expect(comm.stdout.split('\n')).toEqual(['init', expect.not.stringMatching(/^1$/)]);
  }, 120_000);
});

describe('planned runs give the environment of the Node path', () => {
  const probes: Probe[] = ['env', 'id', 'groups', 'umask', 'pwd', 'limits', 'nofile', 'nproc', 'status', 'pid1', 'hosts', 'hostname', 'resolv', 'mounts', 'dev', 'shmSize', 'stdio'];
  const planDir = () => path.join(root, 'run-plans');

  /** A probe's output without what differs from one run to the next (mount ids, times in ls). */
  const comparable = (probe: Probe, output: string | undefined) => (probe === 'mounts' ? mountTable(output!) : probe === 'dev' ? devListing(output!) : output);

  it.each([[[] as string[]], [['-e', 'FOO=bar', '-e', 'HOME=/elsewhere', '-w', '/tmp']]])('with %j', async (flags) => {
    await rm(planDir(), { recursive: true, force: true });
    const node = await ours(flags, probes, PLAN_IMAGE);
    // A plain run through Node leaves a plan (a run with -e does not); the next runs are carried out by bin/run-plan.sh.
    if (flags.length > 0) await ours([], ['pwd'], PLAN_IMAGE);
    expect((await stat(path.join(planDir(), 'crun', `${PLAN_IMAGE}.plan`))).isFile()).toBe(true);
    const planned = await ours(flags, probes, PLAN_IMAGE);
    for (const probe of probes) expect({ probe, output: comparable(probe, planned[probe]) }).toEqual({ probe, output: comparable(probe, node[probe]) });
  }, 120_000);
});

type Run = (args: string[]) => Promise<{ stdout: string }>;

/**
 * HOME as `exec` gives it, by default and with -u nobody, -u 1000 (no passwd
 * entry) and -u 0, in a container started without HOME and in one given
 * -e HOME=/given: one line of four for each.
 */
async function execHomes(run: Run, remove: Run): Promise<string[]> {
  const lines: string[] = [];
  for (const given of [[], ['-e', 'HOME=/given']]) {
    const name = `runenv-exec-${process.pid}`;
    await run(['run', '-d', '--name', name, ...given, IMAGE, 'sleep', '300']);
    try {
      const homes: string[] = [];
      for (const user of [[], ['-u', 'nobody'], ['-u', '1000'], ['-u', '0']]) homes.push((await run(['exec', ...user, name, 'sh', '-c', 'echo $HOME'])).stdout.trim());
      lines.push(homes.join(' '));
    } finally {
      await remove(['rm', '-f', name]);
    }
  }
  return lines;
}

const withPodman = (await onPath('podman')) ? describe : describe.skip;

withPodman('against podman run of the same image (rootless, runc)', () => {
  let podmanPeer: PodmanPeer;
  const podman = (args: string[]) => podmanPeer.run(args);
  const podmanWords = (args: string[]) => podmanPeer.words(args);

  async function theirs(flags: string[], probes: Probe[]): Promise<Record<string, string>> {
    const result = await podman(['run', '--rm', ...flags, IMAGE, 'probe', ...probes]);
    if (result.exitCode !== 0) throw new Error(`podman run exited ${result.exitCode}:\n${result.stderr}`);
    return sections(result.stdout);
  }

  /** podman's environment as docker's: podman alone sets container=podman, and TERM=xterm without a terminal too. */
  const dockerEnv = (env: string, tty: boolean) => env.split('\n').filter((l) => l !== 'container=podman' && (tty || l !== 'TERM=xterm')).join('\n');

  beforeAll(async () => {
    podmanPeer = await rootlessPodman(work, user, rootfsTar, IMAGE);
  }, 300_000);

  afterAll(async () => {
    await podmanPeer.remove();
  }, 120_000);

  describe('default user, no flags', () => {
    const probes: Probe[] = ['env', 'ids', 'umask', 'pwd', 'limits', 'nofile', 'status', 'pid1', 'hosts', 'hostname', 'resolv', 'mounts', 'dev', 'stdio', 'families', 'net4'];
    let mine: Record<string, string>;
    let peer: Record<string, string>;
    beforeAll(async () => {
      mine = await ours([], probes);
      peer = await theirs([], probes);
    }, 120_000);

    it.each(['ids', 'umask', 'pwd', 'limits', 'nofile', 'status', 'pid1', 'stdio'] as Probe[])('%s is the same', (probe) => {
      expect({ probe, output: mine[probe] }).toEqual({ probe, output: peer[probe] });
    });

    it('the default network: an IPv4 default route in both; no global IPv6 address in ribo\'s (docker\'s bridge), where podman gives one', () => {
      expect(mine.families).toBe('ipv4 default route: yes, global ipv6 addresses: 0');
      expect(peer.families).toMatch(/^ipv4 default route: yes, global ipv6 addresses: [1-9]/);
    });

    it('the default network is slirp4netns\'s in both: the same address and gateway; its DNS forwarder the first name server (podman adds the host\'s after it)', () => {
      expect(mine.net4).toBe('inet 10.0.2.100/24\ndefault via 0202000A');
      expect(mine.net4).toBe(peer.net4);
      const servers = (text: string) => text.split('\n').filter((l) => l.startsWith('nameserver '));
      expect(servers(mine.resolv!)).toEqual(['nameserver 10.0.2.3']);
      expect(servers(peer.resolv!)[0]).toBe('nameserver 10.0.2.3');
    });

    it('env is the same, but for podman\'s container= and TERM without -t', () => {
      expect(mine.env).toBe(dockerEnv(peer.env!, false));
    });

    it('/etc/hostname and hostname agree, no domain', () => {
      expect(mine.hostname).toBe(peer.hostname);
    });

    it('/etc/hosts: localhost first, then the container\'s host name and host.containers.internal', () => {
      for (const names of [hostNames(mine.hosts!), hostNames(peer.hosts!)]) {
        expect(names[0]).toEqual(['localhost']);
        expect(names.flat()).toEqual(expect.arrayContaining(['<host>', 'host.containers.internal']));
      }
    });

    it('/etc/resolv.conf: name servers, and the host\'s search and options lines as they are', () => {
      const lines = (text: string) => text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
      for (const text of [mine.resolv!, peer.resolv!]) expect(lines(text).some((l) => l.startsWith('nameserver '))).toBe(true);
      expect(lines(mine.resolv!).filter((l) => !l.startsWith('nameserver '))).toEqual(lines(peer.resolv!).filter((l) => !l.startsWith('nameserver ')));
    });

    it('the mount table: the same mount points, file system types, ro/rw and nosuid/nodev/noexec; the same paths masked and read-only; a --rm root volatile', () => {
      const table = comparableMounts(mountTable(mine.mounts!), 'ribo');
      expect(table).toEqual(comparableMounts(mountTable(peer.mounts!), 'podman'));
      expect(table).toMatchObject({ '/': 'overlay rw volatile', '/sys': 'sysfs ro nosuid nodev noexec', '/proc/sys': 'ro', '/dev/shm': 'tmpfs rw nosuid nodev noexec', '/dev/mqueue': 'mqueue rw nosuid nodev noexec', '/proc/keys': 'masked', '/sys/firmware': 'masked' });
    });

    it('/dev holds the same nodes and links with the same modes', () => {
      expect(devListing(mine.dev!)).toEqual(devListing(peer.dev!));
      expect(devListing(mine.dev!)).toEqual(expect.arrayContaining(['lrwxrwxrwx root root fd -> /proc/self/fd', 'lrwxrwxrwx root root ptmx -> pts/ptmx', 'lrwxrwxrwx root root stdout -> /proc/self/fd/1']));
    });
  });

  it.each([
    ['-u 1000 (no passwd entry)', ['-u', '1000'], ['env', 'ids', 'groups', 'umask', 'pwd', 'status']],
    ['-u nobody', ['-u', 'nobody'], ['env', 'id', 'groups', 'status']],
    ['-e, --env-file, -w', ['-e', 'FOO=bar', '-e', 'HOME=/elsewhere', '--env-file', '@ENVFILE@', '-w', '/tmp'], ['env', 'pwd']],
    ['-e PATH and HOSTNAME', ['-e', 'PATH=/bin', '-e', 'HOSTNAME=given'], ['env']],
    ['--ulimit nofile, nproc and core', ['--ulimit', 'nofile=1024:2048', '--ulimit', 'nproc=100:200', '--ulimit', 'core=-1'], ['nofile', 'nproc', 'limits']],
    ['--ulimit with the soft limit only', ['--ulimit', 'nofile=1000'], ['nofile']],
    ['--shm-size 128m', ['--shm-size', '128m'], ['shmSize']],
    ['-u nobody --group-add wheel --group-add 1234', ['-u', 'nobody', '--group-add', 'wheel', '--group-add', '1234'], ['id', 'groups']],
    ['--sysctl net.* and kernel.shm*', ['--sysctl', 'net.core.somaxconn=1000', '--sysctl', 'kernel.shmmni=2000', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=80'], ['sysctls']],
    ['--device /dev/fuse, and again at another path', ['--device', '/dev/fuse', '--device', '/dev/fuse:/dev/myfuse:rw'], ['devices']],
  ] as Array<[string, string[], Probe[]]>)('%s gives the same answers', async (_what, rawFlags, probes) => {
    const flags = rawFlags.map((f) => (f === '@ENVFILE@' ? envFile : f));
    const [mine, peer] = [await ours(flags, probes), await theirs(flags, probes)];
    for (const probe of probes) {
      const peerOutput = probe === 'env' ? dockerEnv(peer[probe]!, false) : peer[probe];
      expect({ probe, output: mine[probe] }).toEqual({ probe, output: peerOutput });
    }
  }, 120_000);

  it('--read-only makes the same paths read-only as podman --read-only-tmpfs=false (docker\'s --read-only)', async () => {
    const [mine, peer] = [await ours(['--read-only'], ['writable', 'mounts']), await theirs(['--read-only', '--read-only-tmpfs=false'], ['writable', 'mounts'])];
    expect(mine.writable).toBe(peer.writable);
    expect(comparableMounts(mountTable(mine.mounts!), 'ribo')).toEqual(comparableMounts(mountTable(peer.mounts!), 'podman'));
  }, 120_000);

  it('-t: the same TERM, terminal device, /dev/console and /dev/pts (group tty)', async () => {
    const probe = 'env | sort; tty; ls -la /dev/console /dev/pts/0 /dev/pts/ptmx; [ -t 0 ] && [ -t 1 ] && echo tty-in-out';
    const mine = (await inTerminal(riboWords(['run', '--rm', '-t', IMAGE, 'sh', '-c', probe]))).replace(/\r/g, '');
    const peer = (await inTerminal(podmanWords(['run', '--rm', '-t', IMAGE, 'sh', '-c', probe]))).replace(/\r/g, '');
    const normalise = (text: string) => {
      const host = /^HOSTNAME=(.+)$/m.exec(text)?.[1] ?? '<none>';
      return text.split(host).join('<host>').split('\n').map((l) => (/^[bc][rwx-]{9}/.test(l) ? devListing(l)[0] ?? l : l)).filter((l) => l !== 'container=podman').join('\n').trimEnd();
    };
    expect(normalise(mine)).toBe(normalise(peer));
    expect(normalise(mine)).toContain('TERM=xterm');
    expect(normalise(mine)).toMatch(/^crw--w---- root 5 \/dev\/pts\/0$/m);
  }, 120_000);

  it('exec -u: HOME is the exec user\'s unless the container was given one', async () => {
    const mine = await execHomes((args) => riboOk(args, { root }), (args) => ribo(args, { root }));
    const peer = await execHomes(async (args) => {
      const result = await podman(args);
      if (result.exitCode !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
      return result;
    }, podman);
    expect(mine).toEqual(peer);
    expect(mine).toEqual(['/root /nonexistent / /root', '/given /given /given /given']);
  }, 120_000);

  it('-d: /dev/stdout and /dev/stderr are writable and reach the logs', async () => {
    const probe = 'echo to-stdout > /dev/stdout && echo to-stderr > /dev/stderr && echo done';
    const name = `runenv-logs-${process.pid}`;
    await riboOk(['run', '-d', '--name', name, IMAGE, 'sh', '-c', probe], { root });
    await riboOk(['wait', name], { root });
    const mine = await riboOk(['logs', name], { root });
    await ribo(['rm', '-f', name], { root });
    const started = await podman(['run', '-d', '--log-driver', 'k8s-file', '--name', name, IMAGE, 'sh', '-c', probe]);
    if (started.exitCode !== 0) throw new Error(started.stderr);
    await podman(['wait', name]);
    const peer = await podman(['logs', name]);
    await podman(['rm', '-f', name]);
    expect({ stdout: mine.stdout, stderr: mine.stderr }).toEqual({ stdout: peer.stdout, stderr: peer.stderr });
    expect(mine.stdout).toBe('to-stdout\ndone');
    expect(mine.stderr).toBe('to-stderr');
  }, 120_000);

  it('create: a container that is not started (Created) until start; cp reads and writes it before; start -a runs its command', async () => {
    const name = `runenv-create-${process.pid}`;
    const out = await makeOwnedDir(work, `create-${process.pid}`, user);
    async function lifecycle(engine: 'ribo' | 'podman'): Promise<string[]> {
      const tool = engine === 'ribo' ? (args: string[]) => ribo(args, { root }) : podman;
      const step = async (args: string[]) => {
        const result = await tool(args);
        if (result.exitCode !== 0) throw new Error(`${engine} ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
        return result.stdout.trim();
      };
      const status = () => step(['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Status}}']);
      try {
        const id = await step(['create', '--name', name, '-e', 'GREETING=made', IMAGE, 'sh', '-c', 'echo "$GREETING $(cat /given.txt)"; cat /etc/group | wc -l']);
        const states = [/^[0-9a-f]{64}$/.test(id) ? 'an id' : id, await status(), await step(['inspect', '--format', '{{.State.Status}}', name])];
        await writeFile(path.join(out, 'given.txt'), 'from the host\n');
        await step(['cp', path.join(out, 'given.txt'), `${name}:/given.txt`]);
        await step(['cp', `${name}:/etc/group`, path.join(out, `group-${engine}`)]);
        const copied = (await readFile(path.join(out, `group-${engine}`), 'utf8')).split('\n').length - 1;
        const output = await step(['start', '-a', name]);
        return [...states, `copied ${copied} lines`, output, (await status()).replace(/\)\s.*$/, ')')];
      } finally {
        await tool(['rm', '-f', name]);
      }
    }
    const mine = await lifecycle('ribo');
    const peer = await lifecycle('podman');
    expect(mine).toEqual(peer);
    expect(mine).toEqual(['an id', 'Created', 'created', 'copied 3 lines', 'made from the host\n3', 'Exited (0)']);
    expect((await ribo(['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Names}}'], { root })).stdout.trim()).toBe('');
  }, 180_000);
});
