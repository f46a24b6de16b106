/**
 * The default security (capabilities, seccomp profile) as a container sees it:
 * podman's capability set and seccomp allowlist for `ribo run`, BuildKit's
 * capabilities for RUN steps, and ordinary programs unhindered (apt-get in a
 * real Debian image installs a package, which needs its _apt sandbox,
 * setresuid, setgroups, dpkg and the network).
 *
 * A small static probe, compiled here with gcc, makes the syscalls that the
 * profile decides on and prints "NAME ok" or "NAME errno N"; the same image is
 * run by `podman run` (rootless, runc) and the two must agree.
 */
import { execa } from 'execa';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lookupUser, onPath, runAs, type User } from '../differential/cases.js';
import { rootlessPodman, type PodmanPeer } from '../differential/podman-peer.js';
import { E2E_USER, debianTarball, makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';

const PROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
static void report(const char *name, long r) {
  if (r < 0) printf("%s errno %d\n", name, errno); else printf("%s ok\n", name);
}
int main(int argc, char **argv) {
  static char params[120]; /* struct io_uring_params, zeroed */
  for (int i = 1; i < argc; i++) {
    const char *p = argv[i];
    if (!strcmp(p, "io_uring_setup")) report(p, syscall(SYS_io_uring_setup, 1, params));
    else if (!strcmp(p, "raw_socket")) report(p, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    else if (!strcmp(p, "ping_socket")) report(p, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP));
    else if (!strcmp(p, "kcmp")) report(p, syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0));
    else if (!strcmp(p, "personality")) report(p, syscall(SYS_personality, 0x0040000));
    else { printf("%s unknown\n", p); return 2; }
  }
  return 0;
}
`;
const PROBES = ['io_uring_setup', 'raw_socket', 'ping_socket', 'kcmp', 'personality'];
const IMAGE = 'localhost/probe:1';

let root: string;
let work: string;
let probe: string;
let rootfsTar: string;

/** Runs `sh -c script` in the probe image with `flags`. */
async function inProbe(flags: string[], script: string): Promise<string> {
  return (await riboOk(['run', '--rm', ...flags, IMAGE, 'sh', '-c', script], { root })).stdout;
}

/** The probes' answers as NAME -> "ok" | "errno N". */
function answers(output: string): Record<string, string> {
  return Object.fromEntries(output.split('\n').filter((l) => PROBES.includes(l.split(' ')[0]!)).map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
}

beforeAll(async () => {
  root = await makeStore();
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-seccomp-'));
  await writeFile(path.join(work, 'probe.c'), PROBE_C);
  probe = path.join(work, 'probe');
  await execa('gcc', ['-static', '-O2', '-o', probe, path.join(work, 'probe.c')]);
  // An image of busybox and the probe, from a tar as `ribo import` and `podman import` take it.
  const rootfs = path.join(work, 'rootfs');
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  await cp('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  await cp(probe, path.join(rootfs, 'bin/probe'));
  for (const applet of ['sh', 'grep', 'cat', 'ping']) await symlink('busybox', path.join(rootfs, 'bin', applet));
  rootfsTar = path.join(work, 'rootfs.tar');
  await execa('tar', ['-C', rootfs, '-cf', rootfsTar, '.']);
  await execa('chmod', ['-R', 'a+rX', work]);
  await riboOk(['import', rootfsTar, IMAGE], { root });
}, 600_000);

afterAll(async () => {
  await removeStore(root);
  await rm(work, { recursive: true, force: true });
});

it('apt-get update and install work under the default seccomp profile and capabilities', async () => {
  await riboOk(['import', await debianTarball(), 'localhost/debian:bookworm'], { root });
  const script = 'grep "^Seccomp:" /proc/self/status && apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null 2>&1 && hello';
  const { stdout } = await riboOk(['run', '--rm', 'localhost/debian:bookworm', 'sh', '-c', script], { root });
  expect(stdout).toMatch(/^Seccomp:\s+2$/m);
  expect(stdout).toContain('Hello, world!');
}, 600_000);

it('RUN apt-get works in a build; Debian\'s ping (cap_net_raw+ep) then needs --cap-add NET_RAW to run, as with podman', async () => {
  await riboOk(['import', await debianTarball(), 'localhost/debian:bookworm'], { root });
  const context = await makeContext({ Dockerfile: 'FROM localhost/debian:bookworm\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello iputils-ping >/dev/null 2>&1 && hello\n' });
  try {
    const built = await riboOk(['build', '--progress', 'plain', '-t', 'localhost/debian-ping', context], { root });
    expect(built.stderr).toContain('Hello, world!');
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  // The kernel refuses to exec a file whose capabilities it cannot all grant (EPERM), in podman's containers too.
  const refused = await ribo(['run', '--rm', 'localhost/debian-ping', 'ping', '-c1', '-W5', '127.0.0.1'], { root });
  expect(refused.exitCode).not.toBe(0);
  expect(refused.stderr).toMatch(/ping.*Operation not permitted/i);
  const allowed = await riboOk(['run', '--rm', '--cap-add', 'NET_RAW', 'localhost/debian-ping', 'ping', '-c1', '-W5', '127.0.0.1'], { root });
  expect(allowed.stdout).toContain('1 received');
}, 600_000);

describe('the seccomp allowlist', () => {
  it('refuses io_uring_setup (ENOSYS, as for any syscall it does not list), and capability-guarded calls (EPERM)', async () => {
    const confined = answers(await inProbe([], `probe ${PROBES.join(' ')}`));
    expect(confined).toEqual({ io_uring_setup: 'errno 38', raw_socket: 'errno 1', ping_socket: 'ok', kcmp: 'errno 1', personality: 'errno 38' });
  }, 120_000);

  it('is compiled by crun once per profile and kept in the store; a damaged copy is compiled again, and compiling leaves no process', async () => {
    const filters = path.join(root, 'run/crun/.ribo-seccomp');
    const kept = (await readdir(filters)).filter((entry) => entry.endsWith('.bpf'));
    expect(kept.length).toBeGreaterThan(0);
    for (const file of kept) await writeFile(path.join(filters, file), 'damaged');
    // Through Node (a run plan carries its own copy of the filter).
    await rm(path.join(root, 'run-plans'), { recursive: true, force: true });
    expect(answers(await inProbe([], 'probe io_uring_setup kcmp'))).toEqual({ io_uring_setup: 'errno 38', kcmp: 'errno 1' });
    const whole = [];
    for (const file of kept) if ((await stat(path.join(filters, file))).size % 8 === 0) whole.push(file);
    expect(whole).toHaveLength(1);
    // The container crun created to compile the filter (its process waits to be started) is gone.
    expect((await execa('ps', ['-eo', 'args'])).stdout).not.toContain(filters);
  }, 120_000);

  it('--security-opt seccomp=unconfined lifts it: the syscalls answer as on the host', async () => {
    const host = answers((await runAs(E2E_USER ? await lookupUser(E2E_USER) : undefined, probe, ['io_uring_setup', 'kcmp', 'personality'])).stdout);
    const open = answers(await inProbe(['--security-opt', 'seccomp=unconfined'], 'probe io_uring_setup kcmp personality; grep "^Seccomp:" /proc/self/status'));
    expect(open).toEqual(host);
    // The kernel answers, not the filter (ok here; EPERM where the host disables io_uring).
    expect(open.io_uring_setup).not.toBe('errno 38');
  }, 120_000);

  it('applies to build steps too', async () => {
    const context = await makeContext({ Dockerfile: `FROM ${IMAGE}\nRUN probe io_uring_setup > /build-probe.txt && grep -E "^Cap(Eff|Bnd):" /proc/self/status >> /build-probe.txt\n` });
    try {
      await riboOk(['build', '-t', 'localhost/probe-build', context], { root });
      const out = (await riboOk(['run', '--rm', 'localhost/probe-build', 'cat', '/build-probe.txt'], { root })).stdout;
      expect(out).toContain('io_uring_setup errno 38');
      // BuildKit's (docker's) set for RUN: podman's plus MKNOD, NET_RAW and AUDIT_WRITE.
      expect(out).toMatch(/CapEff:\s+00000000a80425fb/);
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('capabilities', () => {
  it('are podman\'s by default; --cap-add NET_RAW opens raw sockets (and busybox ping)', async () => {
    const plain = await inProbe([], 'grep -E "^Cap(Eff|Bnd):" /proc/self/status; probe raw_socket; ping -c1 -W5 127.0.0.1 >/dev/null 2>&1 && echo ping-ok || echo ping-refused');
    expect(plain).toMatch(/CapEff:\s+00000000800405fb/);
    expect(plain).toMatch(/CapBnd:\s+00000000800405fb/);
    expect(plain).toContain('raw_socket errno 1');
    expect(plain).toContain('ping-refused');
    const raw = await inProbe(['--cap-add', 'NET_RAW'], 'grep -E "^CapEff:" /proc/self/status; probe raw_socket; ping -c1 -W5 127.0.0.1 >/dev/null 2>&1 && echo ping-ok || echo ping-refused');
    // NET_RAW is bit 13.
    expect(raw).toMatch(/CapEff:\s+00000000800425fb/);
    expect(raw).toContain('raw_socket ok');
    expect(raw).toContain('ping-ok');
  }, 120_000);

  it('root in the container may open ICMP datagram sockets in its own network, as podman\'s ping_group_range allows', async () => {
    const own = await inProbe(['--network', 'none'], 'cat /proc/sys/net/ipv4/ping_group_range; probe ping_socket');
    expect(own).toMatch(/^0\s+0$/m);
    expect(own).toContain('ping_socket ok');
  }, 120_000);
});

const withPodman = (await onPath('podman')) ? describe : describe.skip;

withPodman('against podman run of the same image (rootless, runc)', () => {
  let user: User | undefined;
  let peer: PodmanPeer;
  const script = `grep -E "^(Cap(Prm|Eff|Bnd)|Seccomp):" /proc/self/status; probe ${PROBES.join(' ')}`;

  beforeAll(async () => {
    user = E2E_USER ? await lookupUser(E2E_USER) : undefined;
    peer = await rootlessPodman(work, user, rootfsTar, IMAGE);
  }, 300_000);

  afterAll(async () => {
    await peer.remove();
  }, 120_000);

  it.each([[[] as string[]], [['--cap-add', 'NET_RAW']], [['--cap-drop', 'ALL', '--cap-add', 'CHOWN']], [['--security-opt', 'seccomp=unconfined']]])('gives the same capabilities and syscall answers with %j', async (flags) => {
    const theirs = await peer.run(['run', '--rm', '--network', 'none', ...flags, IMAGE, 'sh', '-c', script]);
    if (theirs.exitCode !== 0) throw new Error(`podman run exited ${theirs.exitCode}:\n${theirs.stderr}`);
    const ours = await inProbe(['--network', 'none', ...flags], script);
    expect(ours.trim().split('\n')).toEqual(theirs.stdout.trim().split('\n'));
  }, 120_000);
});
