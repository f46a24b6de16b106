/**
 * ribo's own seccomp allowlist (bundles/seccomp.json) must give containers the
 * same filter as podman's profile (/usr/share/containers/seccomp.json), which
 * ribo uses instead whenever it is installed: both are resolved for the
 * capability sets and architectures that matter and compared rule by rule
 * (syscall name, action, errno, argument conditions). Skipped where podman's
 * profile is not installed. On a failure after a containers-common update,
 * regenerate ours with `node bin/seccomp-allowlist.mjs` or list the difference
 * below with its reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ALL_CAPABILITIES, BUILD_DEFAULT_CAPABILITIES, RUN_DEFAULT_CAPABILITIES } from '../../src/runtime/capabilities.js';
import { OWN_NETWORK_SYSCTLS } from '../../src/runtime/bundle.js';
import { RIBO_SECCOMP_PROFILE, loadSeccompProfile, resolveSeccomp, type LinuxSeccomp } from '../../src/runtime/seccomp.js';

const PODMAN_PROFILE = '/usr/share/containers/seccomp.json';
const CONTAINERS_CONF = '/usr/share/containers/containers.conf';
const withPodmanProfile = existsSync(PODMAN_PROFILE) ? describe : describe.skip;
const withContainersConf = existsSync(CONTAINERS_CONF) ? describe : describe.skip;

/**
 * Where ribo's allowlist knowingly differs from podman's, as "name action" of
 * the rule that differs, with the reason. None today.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

/** One line per syscall rule, in a form where equal filters give equal lines (valueTwo 0 and absent are the same). */
function ruleLines(resolved: LinuxSeccomp): string[] {
  const lines = resolved.syscalls.flatMap((rule) => rule.names.map((name) => {
    const args = (rule.args ?? []).map((a) => `${a.index}${a.op}${a.value}/${a.valueTwo ?? 0}`).join(',');
    return `${name} ${rule.action}${rule.errnoRet !== undefined ? `(${rule.errnoRet})` : ''}${args ? ` [${args}]` : ''}`;
  }));
  return [...new Set(lines)].filter((line) => !(line.split(' ').slice(0, 2).join(' ').replace(/\(.*/, '') in KNOWN_DIFFERENCES)).sort();
}

withPodmanProfile('ribo\'s seccomp allowlist against podman\'s installed profile', () => {
  const capabilitySets: Record<string, string[]> = {
    run: [...RUN_DEFAULT_CAPABILITIES],
    build: [...BUILD_DEFAULT_CAPABILITIES],
    none: [],
    all: [...ALL_CAPABILITIES],
    'run + SYS_ADMIN + SYS_PTRACE': [...RUN_DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'],
  };
  const arches = ['x64', 'arm64', 's390x', 'ppc64', 'ia32'];

  it.each(Object.keys(capabilitySets))('resolves to the same filter with the %s capabilities, on every architecture', async (set) => {
    const podman = await loadSeccompProfile(PODMAN_PROFILE);
    const ours = await loadSeccompProfile(RIBO_SECCOMP_PROFILE);
    for (const arch of arches) {
      const host = { arch, kernel: '6.1.0', capabilities: capabilitySets[set]! };
      const theirs = resolveSeccomp(podman, host);
      const mine = resolveSeccomp(ours, host);
      expect({ arch, defaultAction: mine.defaultAction, defaultErrnoRet: mine.defaultErrnoRet, architectures: mine.architectures })
        .toEqual({ arch, defaultAction: theirs.defaultAction, defaultErrnoRet: theirs.defaultErrnoRet, architectures: theirs.architectures });
      expect(ruleLines(mine)).toEqual(ruleLines(theirs));
    }
  });

  it('allows the same syscall names at all', async () => {
    const names = (file: string | URL) => JSON.parse(readFileSync(file, 'utf8')).syscalls.flatMap((r: { names?: string[]; name?: string }) => r.names ?? [r.name]);
    expect([...new Set(names(RIBO_SECCOMP_PROFILE))].sort()).toEqual([...new Set(names(PODMAN_PROFILE))].sort());
  });
});

withContainersConf('ribo\'s defaults against podman\'s containers.conf', () => {
  /** A list setting of containers.conf's [containers] table, e.g. default_capabilities = ["CHOWN", ...]. */
  function listSetting(name: string): string[] {
    const text = readFileSync(CONTAINERS_CONF, 'utf8');
    const match = new RegExp(`^${name}\\s*=\\s*\\[([^\\]]*)\\]`, 'm').exec(text);
    expect(match).not.toBeNull();
    return [...match![1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  }

  it('runs containers with podman\'s default capabilities', () => {
    expect([...RUN_DEFAULT_CAPABILITIES].sort()).toEqual(listSetting('default_capabilities').map((c) => `CAP_${c}`).sort());
  });

  it('sets podman\'s default sysctls in a network namespace of the container\'s own', () => {
    expect(Object.entries(OWN_NETWORK_SYSCTLS).map(([k, v]) => `${k}=${v}`)).toEqual(listSetting('default_sysctls'));
  });
});
