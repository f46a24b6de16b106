import { readFileSync } from 'node:fs';
import { DEFAULT_TEMPLATE, specFromTemplate, type ContainerSpec } from '../../src/runtime/bundle.js';
import { RLIM_INFINITY, checkRlimitsAllowed, parseProcLimits, runtimeConfigJson } from '../../src/runtime/rlimits.js';
import type { RuntimeSpec } from '../../src/oci/runtime-spec.js';
import { UsageError } from '../../src/errors.js';

/** /proc/self/limits as Linux 6.1 prints it. */
const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             96369                96369                processes 
Max open files            1024                 20000                files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       96369                96369                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`;

describe('process limits', () => {
  it('reads /proc/PID/limits by the kernel\'s order, "unlimited" as RLIM_INFINITY', () => {
    const limits = parseProcLimits(LIMITS);
    expect(limits.size).toBe(16);
    expect(limits.get('RLIMIT_NOFILE')).toEqual({ soft: 1024, hard: 20000 });
    expect(limits.get('RLIMIT_STACK')).toEqual({ soft: 8388608, hard: RLIM_INFINITY });
    expect(limits.get('RLIMIT_NICE')).toEqual({ soft: 0, hard: 0 });
    expect(limits.get('RLIMIT_RTTIME')).toEqual({ soft: RLIM_INFINITY, hard: RLIM_INFINITY });
  });

  it('refuses, rootless, a hard limit above ribo\'s own, naming the limit and the most it can be', async () => {
    const refused = await checkRlimitsAllowed([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 30000 }], true, LIMITS).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toMatch(/^--ulimit nofile: .*hard limit of 30000, above the 20000 .*nofile=1024:20000/);
    const unlimited = await checkRlimitsAllowed([{ type: 'RLIMIT_MEMLOCK', soft: RLIM_INFINITY, hard: RLIM_INFINITY }], true, LIMITS).then(() => undefined, (e: unknown) => e);
    expect((unlimited as Error).message).toMatch(/hard limit of unlimited, above the 8388608 .*memlock=8388608:8388608/);
    // Lowering is always allowed, and root may raise.
    await expect(checkRlimitsAllowed([{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20000 }, { type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: RLIM_INFINITY }], true, LIMITS)).resolves.toBeUndefined();
    await expect(checkRlimitsAllowed([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 30000 }], false, LIMITS)).resolves.toBeUndefined();
  });

  it('writes unlimited as the uint64 RLIM_INFINITY, exactly, also after a config was read back', () => {
    const template = JSON.parse(readFileSync(DEFAULT_TEMPLATE, 'utf8')) as RuntimeSpec;
    const spec: ContainerSpec = { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, rootfs: '/r', network: 'host', idCount: 65536, rlimits: [{ type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: RLIM_INFINITY }, { type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }] };
    const text = runtimeConfigJson(specFromTemplate(template, spec), 2);
    expect(text).toContain('"soft": 18446744073709551615,\n');
    expect(text).toContain('"hard": 18446744073709551615\n');
    const again = runtimeConfigJson((JSON.parse(text) as RuntimeSpec).process);
    expect(again).toContain('{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":18446744073709551615},{"type":"RLIMIT_NOFILE","soft":100,"hard":200}');
    expect(again).not.toContain('18446744073709552000');
  });

  it('sizes /dev/shm with --shm-size and leaves the template\'s 64 MiB otherwise; no rlimits without --ulimit', () => {
    const template = JSON.parse(readFileSync(DEFAULT_TEMPLATE, 'utf8')) as RuntimeSpec;
    const base: ContainerSpec = { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, rootfs: '/r', network: 'host', idCount: 65536 };
    const shmOf = (config: RuntimeSpec) => config.mounts!.find((m) => m.destination === '/dev/shm')!.options!.filter((o) => o.startsWith('size='));
    expect(shmOf(specFromTemplate(template, base))).toEqual(['size=65536k']);
    expect(shmOf(specFromTemplate(template, { ...base, shmSize: 256 * 1024 * 1024 }))).toEqual(['size=268435456']);
    expect(specFromTemplate(template, base).process!.rlimits).toBeUndefined();
  });

  it('binds --device nodes in and allows them in the device cgroup with their access', () => {
    const template = JSON.parse(readFileSync(DEFAULT_TEMPLATE, 'utf8')) as RuntimeSpec;
    const base: ContainerSpec = { args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, rootfs: '/r', network: 'host', idCount: 65536 };
    const config = specFromTemplate(template, { ...base, devices: [{ hostPath: '/dev/fuse', path: '/dev/myfuse', type: 'c', major: 10, minor: 229, access: 'r' }] });
    expect(config.mounts).toContainEqual({ destination: '/dev/myfuse', type: 'bind', source: '/dev/fuse', options: ['rbind', 'nosuid', 'noexec', 'ro'] });
    expect(config.linux!.resources!.devices).toEqual([{ allow: true, type: 'c', major: 10, minor: 229, access: 'r' }]);
    expect(specFromTemplate(template, base).linux!.resources?.devices).toBeUndefined();
  });
});
