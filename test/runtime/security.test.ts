import { readFileSync } from 'node:fs';
import { capabilitySet, knownCapabilities, normalizeCapability } from '../../src/runtime/capabilities.js';
import { DEFAULT_SECCOMP_PROFILE, loadSeccompProfile, resolveSeccomp, type SeccompProfile } from '../../src/runtime/seccomp.js';
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

  it('blocks namespace and mount syscalls by default, unless the container has CAP_SYS_ADMIN', async () => {
    const profile = await loadSeccompProfile(DEFAULT_SECCOMP_PROFILE);
    const blocked = (caps: string[]) => resolveSeccomp(profile, { ...host, capabilities: caps }).syscalls.flatMap((r) => r.names);
    expect(resolveSeccomp(profile, host)).toMatchObject({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] });
    expect(blocked(DEFAULTS)).toEqual(expect.arrayContaining(['unshare', 'setns', 'mount', 'kexec_load', 'bpf', 'clone3']));
    expect(blocked([...DEFAULTS, 'CAP_SYS_ADMIN'])).not.toContain('unshare');
    expect(blocked([...DEFAULTS, 'CAP_SYS_ADMIN'])).toContain('kexec_load');
    // Ordinary programs (apt-get, shells, compilers) need none of these.
    expect(blocked(DEFAULTS)).not.toEqual(expect.arrayContaining(['execve']));
    for (const name of ['execve', 'chown', 'setresuid', 'setgroups', 'chroot', 'ptrace', 'clone', 'socket']) {
      expect(resolveSeccomp(profile, host).syscalls.filter((r) => r.names.includes(name) && !r.args)).toEqual([]);
    }
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
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['chown'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_KILL'] } },
      ],
    };
    const resolved = resolveSeccomp(profile, host);
    expect(resolved.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    expect(resolved.syscalls.map((r) => r.names[0])).toEqual(['read', 'ptrace']);
  });
});

describe('bundle security', () => {
  const template = JSON.parse(readFileSync(DEFAULT_TEMPLATE, 'utf8')) as RuntimeSpec;
  const base: ContainerSpec = { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, rootfs: '/r', network: 'host', idCount: 65536 };

  it('keeps Docker\'s default capabilities and masked /proc paths', () => {
    const config = specFromTemplate(template, base);
    expect(config.process!.capabilities!.bounding).toHaveLength(14);
    expect(config.process!.capabilities!.bounding).not.toContain('CAP_SYS_ADMIN');
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
