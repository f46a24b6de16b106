import { readFileSync } from 'node:fs';
import { capabilitySet, knownCapabilities, normalizeCapability } from '../../src/runtime/capabilities.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BUILD_DEFAULT_CAPABILITIES, RUN_DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';
import { RIBO_SECCOMP_PROFILE, defaultSeccompProfilePath, loadSeccompProfile, resolveSeccomp, type LinuxSeccomp, type SeccompProfile } from '../../src/runtime/seccomp.js';
import { DEFAULT_TEMPLATE, specFromTemplate, type ContainerSpec } from '../../src/runtime/bundle.js';
import type { RuntimeSpec } from '../../src/oci/runtime-spec.js';

const DEFAULTS = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID'];

describe('capabilities', () => {
  it('follows docker: defaults +add -drop, ALL on either side', () => {
    expect(capabilitySet(DEFAULTS, ['CAP_NET_ADMIN'], ['CAP_CHOWN'])).toEqual(['CAP_KILL', 'CAP_SETUID', 'CAP_NET_ADMIN']);
    expect(capabilitySet(DEFAULTS, ['CAP_CHOWN'], ['ALL'])).toEqual(['CAP_CHOWN']);
    expect(capabilitySet(DEFAULTS, ['ALL'], ['CAP_KILL'], knownCapabilities(3))).toEqual(['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER']);
    expect(normalizeCapability('sys_admin', '--cap-add')).toBe('CAP_SYS_ADMIN');
    expect(() => normalizeCapability('CAP_NOPE', '--cap-add')).toThrow(/CAP_NOPE/);
  });
});

describe('seccomp', () => {
  const host = { arch: 'x64', kernel: '6.1.0-13-amd64', capabilities: DEFAULTS };
  const rulesFor = (resolved: LinuxSeccomp, name: string) => resolved.syscalls.filter((r) => r.names.includes(name));
  /** What a syscall without argument conditions gets: the action of its unconditional rule, else the default action. */
  const actionOf = (resolved: LinuxSeccomp, name: string) => rulesFor(resolved, name).find((r) => !r.args)?.action ?? resolved.defaultAction;

  it('ribo\'s own profile is an allowlist: unknown and newer syscalls fail with ENOSYS', async () => {
    const profile = await loadSeccompProfile(RIBO_SECCOMP_PROFILE);
    const resolved = resolveSeccomp(profile, { ...host, capabilities: [...RUN_DEFAULT_CAPABILITIES] });
    expect(resolved).toMatchObject({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] });
    for (const name of ['execve', 'chown', 'setresuid', 'setgroups', 'chroot', 'clone', 'clone3', 'socket', 'mount', 'unshare', 'arch_prctl']) {
      expect([name, actionOf(resolved, name) === 'SCMP_ACT_ALLOW' || rulesFor(resolved, name).some((r) => r.action === 'SCMP_ACT_ALLOW')]).toEqual([name, true]);
    }
    for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'add_key', 'a_syscall_of_the_future']) {
      expect([name, rulesFor(resolved, name)]).toEqual([name, []]);
    }
    for (const name of ['vmsplice', 'kcmp', 'process_madvise', 'bpf', 'kexec_load', 'userfaultfd']) {
      expect([name, actionOf(resolved, name)]).toEqual([name, 'SCMP_ACT_ERRNO']);
    }
    // personality only with the few personas programs ask for (PER_LINUX, PER_LINUX32, UNAME26 and the query).
    expect(rulesFor(resolved, 'personality').map((r) => r.args?.[0]?.value)).toEqual([0, 8, 131072, 131080, 4294967295]);
    // arm-only calls are left out on x86-64.
    expect(rulesFor(resolved, 'cacheflush')).toEqual([]);
  });

  it('lets capabilities open what they guard, as podman\'s profile does', async () => {
    const profile = await loadSeccompProfile(RIBO_SECCOMP_PROFILE);
    const withPtrace = resolveSeccomp(profile, { ...host, capabilities: [...RUN_DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'] });
    for (const name of ['kcmp', 'process_madvise', 'bpf', 'perf_event_open']) expect([name, actionOf(withPtrace, name)]).toEqual([name, 'SCMP_ACT_ALLOW']);
    const without = resolveSeccomp(profile, { ...host, capabilities: [] });
    expect(actionOf(without, 'chroot')).toBe('SCMP_ACT_ERRNO');
    // No CAP_AUDIT_WRITE (podman's default): audit netlink sockets fail with EINVAL, other sockets are allowed.
    expect(rulesFor(without, 'socket').map((r) => [r.action, r.errnoRet])).toContainEqual(['SCMP_ACT_ERRNO', 22]);
    const build = resolveSeccomp(profile, { ...host, capabilities: [...BUILD_DEFAULT_CAPABILITIES] });
    expect(rulesFor(build, 'socket')).toEqual([{ names: ['socket'], action: 'SCMP_ACT_ALLOW' }]);
  });

  it('uses podman\'s installed profile first, else ribo\'s own', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-seccomp-'));
    const installed = path.join(dir, 'seccomp.json');
    await writeFile(installed, '{}');
    expect(await defaultSeccompProfilePath([path.join(dir, 'missing.json'), installed])).toBe(installed);
    expect(await defaultSeccompProfilePath([path.join(dir, 'missing.json')])).toBe(RIBO_SECCOMP_PROFILE);
    await rm(dir, { recursive: true });
  });

  it('refuses what containers/common refuses: architectures with archMap, name with names', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-seccomp-'));
    const write = async (name: string, profile: object) => {
      const file = path.join(dir, name);
      await writeFile(file, JSON.stringify(profile));
      return file;
    };
    const arches = await write('arches.json', { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], archMap: [{ architecture: 'SCMP_ARCH_X86_64' }] });
    await expect(loadSeccompProfile(arches)).rejects.toThrow(/arches\.json has both "architectures" and "archMap"/);
    const names = await write('names.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] });
    await expect(loadSeccompProfile(names)).rejects.toThrow(/names\.json: rule 2 of "syscalls" has both "name" and "names"/);
    await rm(dir, { recursive: true });
  });

  it('evaluates Docker profile conditions: caps, arches and minKernel', () => {
    const profile: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [{ architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] }, { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
        { names: ['newer'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.10' } },
        { names: ['arm_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['not_on_x86_64'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['chown'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_KILL'] } },
      ],
    };
    const resolved = resolveSeccomp(profile, host);
    expect(resolved.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    expect(resolved.syscalls.map((r) => r.names[0])).toEqual(['read', 'ptrace']);
    // A 32-bit x86 host is "x86" to profiles (libseccomp's name), an arch missing from archMap gets none.
    const x86 = resolveSeccomp({ ...profile, syscalls: [{ names: ['x86_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['x86'] } }] }, { ...host, arch: 'ia32' });
    expect(x86).toMatchObject({ architectures: [], syscalls: [{ names: ['x86_only'] }] });
  });
});

describe('bundle security', () => {
  const template = JSON.parse(readFileSync(DEFAULT_TEMPLATE, 'utf8')) as RuntimeSpec;
  const base: ContainerSpec = { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, rootfs: '/r', network: 'host', idCount: 65536 };

  it('gives podman\'s capabilities to run, BuildKit\'s to build steps, and keeps masked /proc paths', () => {
    const config = specFromTemplate(template, base);
    expect([...config.process!.capabilities!.bounding!].sort()).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
    ]);
    const build = specFromTemplate(template, { ...base, capabilityDefaults: 'build' }).process!.capabilities!;
    expect(build.effective).toHaveLength(14);
    expect(build.effective).toEqual(expect.arrayContaining(['CAP_MKNOD', 'CAP_NET_RAW', 'CAP_AUDIT_WRITE']));
    expect(config.linux!.maskedPaths).toEqual(expect.arrayContaining(['/proc/kcore', '/proc/keys', '/sys/firmware']));
    expect(config.linux!.readonlyPaths).toEqual(expect.arrayContaining(['/proc/sys', '/proc/sysrq-trigger']));
    expect(config.linux!.seccomp).toBeUndefined();
  });

  it('applies cap changes, no-new-privileges, --init, read-only root and a network namespace', () => {
    const config = specFromTemplate(template, { ...base, capDrop: ['CAP_CHOWN'], capAdd: ['CAP_NET_ADMIN'], noNewPrivileges: true, init: '/usr/bin/tini-static', readonlyRootfs: true, network: 'private' });
    expect(config.process!.capabilities!.effective).toContain('CAP_NET_ADMIN');
    expect(config.process!.capabilities!.effective).not.toContain('CAP_CHOWN');
    expect(config.process!.noNewPrivileges).toBe(true);
    expect(config.process!.args).toEqual(['/dev/init', '--', 'sh']);
    expect(config.mounts).toContainEqual({ destination: '/dev/init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro', 'nosuid', 'nodev'] });
    expect(config.root).toEqual({ path: '/r', readonly: true });
    expect(config.linux!.namespaces).toContainEqual({ type: 'network' });
    // podman's default sysctl for ping, only in a network namespace of the container's own.
    expect(config.linux!.sysctl).toEqual({ 'net.ipv4.ping_group_range': '0 0' });
    expect(specFromTemplate(template, base).linux!.sysctl).toBeUndefined();
  });
});

describe('cgroup limits', () => {
  const requested = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 10 } };

  it('rootless: nothing enforced, one warning naming the flags and the fix', async () => {
    const { enforceableResources } = await import('../../src/runtime/cgroups.js');
    const result = await enforceableResources(requested, { rootless: true, mode: 'hybrid' });
    expect(result.resources).toBeUndefined();
    expect(result.warning).toMatch(/^ribo: warning: --memory, --pids-limit not enforced: .*hybrid v1\/v2.*run ribo as root/);
    expect(result.warning).not.toContain('\n');
  });

  it('as root: the limits go to the runtime, memory+swap twice the memory as docker sets it', async () => {
    const { enforceableResources } = await import('../../src/runtime/cgroups.js');
    const result = await enforceableResources(requested, { rootless: false, mode: 'v2' });
    expect(result.warning).toBeUndefined();
    expect(result.resources).toEqual({ memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 }, pids: { limit: 10 } });
    expect(await enforceableResources(undefined, { rootless: true, mode: 'v1' })).toEqual({});
  });
});
