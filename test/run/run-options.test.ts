import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRunFlags, type RunContext } from '../../src/run/run-options.js';
import { refusePrivilegedHostPorts } from '../../src/run/publish.js';
import { parseSize } from '../../src/run/mount-options.js';
import { UsageError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ribo-run-options-'));
mkdirSync(path.join(dir, 'data'));
const ctx: RunContext = { cwd: dir, env: { FROM_HOST: 'host value' }, stdinIsTerminal: false };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function usageError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UsageError);
  return (error as Error).message;
}

describe('environment', () => {
  it('reads env files first, then -e; NAME alone copies from ribo\'s environment or is left out', async () => {
    writeFileSync(path.join(dir, 'app.env'), '# comment\n\nA=1\nB=two words=ok\nFROM_HOST\nNOT_SET\nA=from file\n');
    const spec = await parseRunFlags({ envFile: ['app.env'], env: ['A=from -e', 'FROM_HOST', 'ALSO_NOT_SET'] }, ctx);
    expect(spec.env).toEqual(['A=1', 'B=two words=ok', 'FROM_HOST=host value', 'A=from file', 'A=from -e', 'FROM_HOST=host value']);
  });

  it('names a missing env file and a line without a name', async () => {
    expect(await usageError(parseRunFlags({ envFile: ['missing.env'] }, ctx))).toContain(path.join(dir, 'missing.env'));
    writeFileSync(path.join(dir, 'bad.env'), 'A=1\n=2\n');
    expect(await usageError(parseRunFlags({ envFile: ['bad.env'] }, ctx))).toContain('line 2');
  });
});

describe('volumes and mounts', () => {
  it('binds host paths read-write or read-only, relative ones from the working directory', async () => {
    const spec = await parseRunFlags({ volume: ['./data:/data', `${dir}/data:/ro/:ro`] }, ctx);
    expect(spec.mounts).toEqual([
      { destination: '/data', type: 'bind', source: path.join(dir, 'data'), options: ['rbind', 'rw'] },
      { destination: '/ro', type: 'bind', source: path.join(dir, 'data'), options: ['rbind', 'ro'] },
    ]);
  });

  it('takes NAME:PATH as a named volume and PATH alone as an anonymous one, with their options', async () => {
    const spec = await parseRunFlags({ volume: ['cache:/x:ro,nocopy', '/anon/', './data:/d:U'], mount: ['type=volume,src=v1,dst=/v,readonly', 'type=volume,dst=/w,volume-nocopy'] }, ctx);
    expect(spec.volumes).toEqual([
      { name: 'cache', destination: '/x', readonly: true, copyUp: false, chown: false },
      { destination: '/anon', readonly: false, copyUp: true, chown: false },
      { name: 'v1', destination: '/v', readonly: true, copyUp: true, chown: false },
      { destination: '/w', readonly: false, copyUp: false, chown: false },
    ]);
    expect(spec.mounts).toEqual([{ destination: '/d', type: 'bind', source: path.join(dir, 'data'), options: ['rbind', 'rw'] }]);
    expect(spec.chownBinds).toEqual([path.join(dir, 'data')]);
    expect((await parseRunFlags({ userns: 'keep-id' }, ctx)).keepId).toBe(true);
    expect(await usageError(parseRunFlags({ userns: 'auto' }, ctx))).toContain('keep-id');
  });

  it('leaves a missing -v host path to be made when the container is created; refuses it for --mount', async () => {
    const spec = await parseRunFlags({ volume: ['./not-yet:/x', `${dir}/data:/d`] }, ctx);
    expect(spec.missingBindSources).toEqual([path.join(dir, 'not-yet')]);
    expect(spec.mounts.find((m) => m.destination === '/x')?.source).toBe(path.join(dir, 'not-yet'));
    expect(existsSync(path.join(dir, 'not-yet'))).toBe(false);
    expect(await usageError(parseRunFlags({ mount: [`type=bind,src=${dir}/not-yet,dst=/x`] }, ctx))).toContain(`${dir}/not-yet does not exist`);
  });

  it('refuses bad volume names and options, relative container paths', async () => {
    expect(await usageError(parseRunFlags({ volume: ['c@che:/x'] }, ctx))).toContain('not a valid volume name');
    expect(await usageError(parseRunFlags({ volume: ['./data:/x:nocopy'] }, ctx))).toContain('unknown option "nocopy"');
    expect(await usageError(parseRunFlags({ volume: ['relative'] }, ctx))).toContain('must be absolute');
    expect(await usageError(parseRunFlags({ volume: ['./data:rel'] }, ctx))).toContain('must be absolute');
    expect(await usageError(parseRunFlags({ volume: ['./data:/x:rx'] }, ctx))).toContain('unknown option "rx"');
  });

  it('parses --mount bind and tmpfs', async () => {
    const spec = await parseRunFlags({ mount: ['type=bind,src=data,dst=/in,readonly', 'type=tmpfs,target=/scratch,tmpfs-size=64m'] }, ctx);
    expect(spec.mounts).toEqual([
      { destination: '/in', type: 'bind', source: path.join(dir, 'data'), options: ['rbind', 'ro'] },
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', `size=${64 * 1024 * 1024}`, 'mode=1777'] },
    ]);
    expect(await usageError(parseRunFlags({ mount: ['type=volume,src=v,dst=/v,volume-driver=x'] }, ctx))).toContain('unknown field "volume-driver"');
    expect(await usageError(parseRunFlags({ mount: ['type=bind,dst=/v'] }, ctx))).toContain('needs source');
    expect(await usageError(parseRunFlags({ mount: ['type=tmpfs,dst=/v,colour=red'] }, ctx))).toContain('unknown field "colour"');
  });
});

describe('limits, capabilities and security options', () => {
  it('parses sizes as docker does', () => {
    expect(parseSize('512m', '--memory')).toBe(512 * 1024 * 1024);
    expect(parseSize('1g', '--memory')).toBe(1024 ** 3);
    expect(parseSize('4096', '--memory')).toBe(4096);
    expect(() => parseSize('lots', '--memory')).toThrow(UsageError);
  });

  it('turns --memory, --cpus and --pids-limit into cgroup resources', async () => {
    const spec = await parseRunFlags({ memory: '64m', cpus: '0.5', pidsLimit: '20' }, ctx);
    expect(spec.resources).toEqual({ memory: { limit: 64 * 1024 * 1024 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 20 } });
    expect((await parseRunFlags({ pidsLimit: '-1' }, ctx)).resources).toBeUndefined();
    expect(await usageError(parseRunFlags({ memory: '1m' }, ctx))).toContain('minimum is 6m');
    expect(await usageError(parseRunFlags({ cpus: '1000' }, ctx))).toContain('--cpus 1000');
  });

  it('takes --memory-swap, --memory-reservation, --cpu-shares and --cpuset-cpus with docker\'s rules', async () => {
    const spec = await parseRunFlags({ memory: '64m', memorySwap: '128m', memoryReservation: '32m', cpuShares: '512', cpusetCpus: '0' }, ctx);
    expect(spec.resources).toEqual({ memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024, reservation: 32 * 1024 * 1024 }, cpu: { shares: 512, cpus: '0' } });
    expect((await parseRunFlags({ memory: '64m', memorySwap: '-1' }, ctx)).resources?.memory).toEqual({ limit: 64 * 1024 * 1024, swap: -1 });
    expect(await usageError(parseRunFlags({ memorySwap: '1g' }, ctx))).toMatch(/^--memory-swap 1g: .*needs --memory too/);
    expect(await usageError(parseRunFlags({ memory: '64m', memorySwap: '32m' }, ctx))).toMatch(/cannot be below --memory 64m/);
    expect(await usageError(parseRunFlags({ memory: '64m', memoryReservation: '128m' }, ctx))).toMatch(/above --memory 64m would never apply/);
    expect(await usageError(parseRunFlags({ cpuShares: 'many' }, ctx))).toMatch(/^--cpu-shares many: give a relative weight/);
    expect(await usageError(parseRunFlags({ cpusetCpus: '0-x' }, ctx))).toMatch(/give CPU numbers and ranges/);
    expect(await usageError(parseRunFlags({ cpusetCpus: '999' }, ctx))).toMatch(/this machine has CPUs 0-/);
    expect((await parseRunFlags({ cpuShares: '0' }, ctx)).resources).toBeUndefined();
  });

  it('normalises capability names and rejects unknown ones', async () => {
    const spec = await parseRunFlags({ capAdd: ['net_admin', 'CAP_SYS_PTRACE'], capDrop: ['all'] }, ctx);
    expect(spec.capAdd).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_PTRACE']);
    expect(spec.capDrop).toEqual(['ALL']);
    await expect(parseRunFlags({ capAdd: ['FLY'] }, ctx)).rejects.toThrow(/--cap-add FLY: unknown capability/);
  });

  it('reads --security-opt as docker spells it', async () => {
    expect(await parseRunFlags({ securityOpt: ['no-new-privileges'] }, ctx)).toMatchObject({ noNewPrivileges: true, seccomp: 'default' });
    expect(await parseRunFlags({ securityOpt: ['no-new-privileges:true', 'seccomp=unconfined'] }, ctx)).toMatchObject({ noNewPrivileges: true, seccomp: 'unconfined' });
    writeFileSync(path.join(dir, 'profile.json'), '{}');
    expect((await parseRunFlags({ securityOpt: ['seccomp=profile.json'] }, ctx)).seccomp).toBe(path.join(dir, 'profile.json'));
    expect(await usageError(parseRunFlags({ securityOpt: ['seccomp=nope.json'] }, ctx))).toContain('no such file');
    expect(await usageError(parseRunFlags({ securityOpt: ['apparmor=x'] }, ctx))).toContain('not supported');
  });

  it('refuses --privileged, malformed networks and -t without a terminal', async () => {
    expect(await usageError(parseRunFlags({ privileged: true }, ctx))).toContain('--privileged is not supported');
    expect(await usageError(parseRunFlags({ network: 'my net' }, ctx))).toContain('--network my net: not a network mode or network name');
    expect(await usageError(parseRunFlags({ network: 'container:' }, ctx))).toContain('not a network mode or network name');
    expect((await parseRunFlags({ network: 'bridge' }, ctx)).network).toBe('default');
    expect((await parseRunFlags({}, ctx)).network).toBe('default');
    expect(await usageError(parseRunFlags({ tty: true }, ctx))).toContain('not a terminal');
    expect((await parseRunFlags({ tty: true }, { ...ctx, stdinIsTerminal: true })).tty).toBe(true);
  });

  it('--network NAME joins a network between containers, container:NAME another container\'s; aliases and -p need the right one', async () => {
    expect(await parseRunFlags({ network: 'backend', networkAlias: ['db', 'pg'] }, ctx)).toMatchObject({ network: 'named', networkName: 'backend', networkAliases: ['db', 'pg'] });
    expect(await parseRunFlags({ network: 'container:web' }, ctx)).toMatchObject({ network: 'container', networkContainer: 'web', networkAliases: [] });
    expect(await usageError(parseRunFlags({ networkAlias: ['db'] }, ctx))).toContain('--network-alias db: aliases are names on a network between containers');
    expect(await usageError(parseRunFlags({ network: 'container:web', networkAlias: ['db'] }, ctx))).toContain('--network-alias db');
    expect(await usageError(parseRunFlags({ network: 'backend', networkAlias: ['-x'] }, ctx))).toContain('--network-alias -x: a name is');
    expect(await usageError(parseRunFlags({ network: 'container:web', publish: ['8080:80'] }, ctx))).toContain('-p 8080:80');
  });

  it('--entrypoint "" clears the entrypoint, a value replaces it', async () => {
    expect((await parseRunFlags({ entrypoint: '' }, ctx)).entrypoint).toEqual([]);
    expect((await parseRunFlags({ entrypoint: '/bin/echo' }, ctx)).entrypoint).toEqual(['/bin/echo']);
    expect((await parseRunFlags({}, ctx)).entrypoint).toBeUndefined();
  });
});

describe('--tmpfs and -p', () => {
  it('mounts a tmpfs with docker\'s defaults, the given options overriding them', async () => {
    const spec = await parseRunFlags({ tmpfs: ['/run', '/tmp:exec,size=64m,mode=0700'] }, ctx);
    expect(spec.mounts).toEqual([
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'mode=1777'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'exec', 'size=64m', 'mode=0700'] },
    ]);
    expect(await usageError(parseRunFlags({ tmpfs: ['/tmp:bogus'] }, ctx))).toContain('unknown tmpfs option "bogus"');
    expect(await usageError(parseRunFlags({ tmpfs: ['tmp'] }, ctx))).toContain('must be absolute');
  });

  it('refuses -p with --network host or none, naming both flags', async () => {
    expect(await usageError(parseRunFlags({ publish: ['8080:80'], network: 'host' }, ctx))).toContain('-p 8080:80: ports cannot be published with --network host');
    expect(await usageError(parseRunFlags({ publishAll: true, network: 'none' }, ctx))).toContain('-P: ports cannot be published with --network none');
  });

  it('parses -p as docker does: addresses, ranges, protocols, free host ports', async () => {
    const ports = (values: string[]) => parseRunFlags({ publish: values }, ctx).then((s) => s.ports);
    expect(await ports(['127.0.0.1:8080:80'])).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(await ports(['8080-8081:80-81/udp'])).toEqual([
      { hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'udp' },
      { hostIp: '0.0.0.0', hostPort: 8081, containerPort: 81, protocol: 'udp' },
    ]);
    expect(await ports(['80'])).toEqual([{ hostIp: '0.0.0.0', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(await usageError(parseRunFlags({ publish: ['8080-8082:80-81'] }, ctx))).toContain('different lengths');
    expect(await usageError(parseRunFlags({ publish: ['80/sctp'] }, ctx))).toContain('unknown protocol');
    expect(await usageError(parseRunFlags({ publish: ['x:80:80'] }, ctx))).toContain('not an IP address');
    expect(await usageError(parseRunFlags({ addHost: ['nohost'] }, ctx))).toContain('--add-host nohost');
    expect(await usageError(parseRunFlags({ dns: ['dns.example'] }, ctx))).toContain('--dns dns.example');
  });
});

describe('-p below the unprivileged port limit', () => {
  const rootless: RunContext = { ...ctx, env: { ...ctx.env, RIBO_IN_NAMESPACE: 'rootless' } };
  const limitFile = path.join(dir, 'ip_unprivileged_port_start');

  it("is refused rootless before anything is made, naming the port, the kernel's limit and both ways out, as podman refuses it", async () => {
    // The limit this machine has (1024 unless root lowered it), as the check reads it.
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    if (start <= 1) return; // every port is unprivileged here: nothing to refuse
    const message = await usageError(parseRunFlags({ publish: [`127.0.0.1:${start - 1}:80`] }, rootless));
    expect(message).toContain(`-p ${start - 1}:80: a rootless container cannot publish host port ${start - 1}`);
    expect(message).toContain('net.ipv4.ip_unprivileged_port_start');
    expect(message).toContain(`sysctl net.ipv4.ip_unprivileged_port_start=${start - 1}`);
    // As root, and for ports at the limit or picked by ribo, nothing is refused.
    expect((await parseRunFlags({ publish: [`${start - 1}:80`] }, ctx)).ports[0]!.hostPort).toBe(start - 1);
    expect((await parseRunFlags({ publish: [`${start}:80`, '80'] }, rootless)).ports.map((p) => p.hostPort)).toEqual([start, 0]);
  });

  it('follows the limit the kernel gives, and leaves the check to socat where it cannot be read', async () => {
    writeFileSync(limitFile, '80\n');
    await expect(refusePrivilegedHostPorts([{ hostIp: '0.0.0.0', hostPort: 80, containerPort: 80, protocol: 'udp' }], limitFile)).resolves.toBeUndefined();
    await expect(refusePrivilegedHostPorts([{ hostIp: '0.0.0.0', hostPort: 79, containerPort: 53, protocol: 'udp' }], limitFile)).rejects.toThrow('-p 79:53: a rootless container cannot publish host port 79; ports below 80');
    await expect(refusePrivilegedHostPorts([{ hostIp: '0.0.0.0', hostPort: 22, containerPort: 22, protocol: 'tcp' }], path.join(dir, 'missing'))).resolves.toBeUndefined();
  });
});

describe('--ulimit, --shm-size, --group-add, --cidfile', () => {
  it('takes --ulimit NAME=SOFT[:HARD] as docker: HARD defaults to SOFT, -1 is unlimited, the last of a name wins', async () => {
    const spec = await parseRunFlags({ ulimit: ['nofile=1024:4096', 'nproc=50', 'core=-1', 'nproc=60:70', 'stack=unlimited'] }, ctx);
    expect(spec.rlimits).toEqual([
      { type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 },
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_NPROC', soft: 60, hard: 70 },
      { type: 'RLIMIT_STACK', soft: 2 ** 64, hard: 2 ** 64 },
    ]);
    expect((await parseRunFlags({}, ctx)).rlimits).toEqual([]);
  });

  it('names the flag and the fix for a bad --ulimit', async () => {
    expect(await usageError(parseRunFlags({ ulimit: ['nofiles=10'] }, ctx))).toMatch(/^--ulimit nofiles=10: unknown limit "nofiles"; use one of .*nofile/);
    expect(await usageError(parseRunFlags({ ulimit: ['nofile=20:10'] }, ctx))).toMatch(/soft limit is above the hard one/);
    expect(await usageError(parseRunFlags({ ulimit: ['nofile'] }, ctx))).toMatch(/expected NAME=SOFT\[:HARD\]/);
    expect(await usageError(parseRunFlags({ ulimit: ['nofile=1k'] }, ctx))).toMatch(/"1k" is not a whole number/);
    expect(await usageError(parseRunFlags({ ulimit: ['as=10'] }, ctx))).toMatch(/unknown limit "as"/);
  });

  it('sizes /dev/shm with --shm-size; 0 is docker\'s default', async () => {
    expect((await parseRunFlags({ shmSize: '256m' }, ctx)).shmSize).toBe(256 * 1024 * 1024);
    expect((await parseRunFlags({ shmSize: '1000' }, ctx)).shmSize).toBe(1000);
    expect((await parseRunFlags({ shmSize: '0' }, ctx)).shmSize).toBeUndefined();
    expect(await usageError(parseRunFlags({ shmSize: '-1' }, ctx))).toMatch(/^--shm-size -1: not a size/);
  });

  it('keeps --group-add names and gids for the start, refusing what cannot be a group', async () => {
    expect((await parseRunFlags({ groupAdd: ['wheel', '1234'] }, ctx)).groupAdd).toEqual(['wheel', '1234']);
    expect(await usageError(parseRunFlags({ groupAdd: ['a:b'] }, ctx))).toMatch(/^--group-add a:b: give a group name/);
  });

  it('refuses a --cidfile that exists or whose directory does not, and leaves nothing behind', async () => {
    const spec = await parseRunFlags({ cidfile: 'new.cid' }, ctx);
    expect(spec.cidfile).toBe(path.join(dir, 'new.cid'));
    expect(existsSync(path.join(dir, 'new.cid'))).toBe(false);
    writeFileSync(path.join(dir, 'old.cid'), 'x');
    expect(await usageError(parseRunFlags({ cidfile: 'old.cid' }, ctx))).toMatch(/old\.cid exists already .*remove it or give another path/);
    expect(await usageError(parseRunFlags({ cidfile: 'no/such/dir.cid' }, ctx))).toMatch(/no\/such is not a directory/);
  });
});

describe('--label, --stop-signal, --stop-timeout', () => {
  it('takes labels KEY=VALUE or KEY, the last of a key winning; names an empty key', async () => {
    expect((await parseRunFlags({ label: ['a=1', 'b', 'c=x=y', 'a=2'] }, ctx)).labels).toEqual({ a: '2', b: '', c: 'x=y' });
    expect(await usageError(parseRunFlags({ label: ['=v'] }, ctx))).toMatch(/^--label =v: the label's key is empty/);
  });

  it('normalises the stop signal and takes whole seconds for the timeout', async () => {
    expect(await parseRunFlags({ stopSignal: 'usr1', stopTimeout: '30' }, ctx)).toMatchObject({ stopSignal: 'SIGUSR1', stopTimeout: 30 });
    expect((await parseRunFlags({ stopSignal: '2' }, ctx)).stopSignal).toBe('SIGINT');
    expect(await usageError(parseRunFlags({ stopSignal: 'NOPE' }, ctx))).toMatch(/Unknown signal "NOPE" \(from --stop-signal\)/);
    expect(await usageError(parseRunFlags({ stopTimeout: '1.5' }, ctx))).toMatch(/^--stop-timeout 1\.5: give a whole number of seconds/);
  });
});

describe('--device', () => {
  it('takes HOST[:CONTAINER][:PERMISSIONS] as docker reads it, with the node\'s numbers', async () => {
    const spec = await parseRunFlags({ device: ['/dev/null', '/dev/null:/dev/other:r', '/dev/zero:rw'] }, ctx);
    expect(spec.devices).toEqual([
      { hostPath: '/dev/null', path: '/dev/null', type: 'c', major: 1, minor: 3, access: 'rwm' },
      { hostPath: '/dev/null', path: '/dev/other', type: 'c', major: 1, minor: 3, access: 'r' },
      { hostPath: '/dev/zero', path: '/dev/zero', type: 'c', major: 1, minor: 5, access: 'rw' },
    ]);
  });

  it('names a missing node, a directory, a file and a relative path', async () => {
    expect(await usageError(parseRunFlags({ device: ['/dev/nosuch-device'] }, ctx))).toMatch(/^--device \/dev\/nosuch-device: \/dev\/nosuch-device does not exist on this machine/);
    expect(await usageError(parseRunFlags({ device: ['/dev'] }, ctx))).toMatch(/is not a device node \(a directory of devices is not supported; give each device\)/);
    expect(await usageError(parseRunFlags({ device: [path.join(dir, 'app.env')] }, ctx))).toMatch(/is not a device node; give one such as \/dev\/fuse, or bind a file with -v/);
    expect(await usageError(parseRunFlags({ device: ['/dev/null:rx'] }, ctx))).toMatch(/the paths must be absolute/);
    expect(await usageError(parseRunFlags({ device: ['/a:/b:rw:x'] }, ctx))).toMatch(/expected HOST\[:CONTAINER\]\[:PERMISSIONS\]/);
  });
});

describe('--sysctl', () => {
  it('takes namespaced sysctls as docker allows them, net.* only on a network of the container\'s own', async () => {
    expect((await parseRunFlags({ sysctl: ['net.core.somaxconn=1024', 'kernel.shmmax=1000000', 'fs/mqueue/msg_max=20', 'kernel.sem=250 32000 32 128'] }, ctx)).sysctls).toEqual({
      'net.core.somaxconn': '1024', 'kernel.shmmax': '1000000', 'fs.mqueue.msg_max': '20', 'kernel.sem': '250 32000 32 128',
    });
    expect(await usageError(parseRunFlags({ sysctl: ['kernel.hostname=x'] }, ctx))).toMatch(/kernel\.hostname is not namespaced/);
    expect(await usageError(parseRunFlags({ sysctl: ['vm.swappiness=1'] }, ctx))).toMatch(/vm\.swappiness is not namespaced/);
    expect(await usageError(parseRunFlags({ sysctl: ['net.core.somaxconn=1'], network: 'host' }, ctx))).toMatch(/net\.\* sysctls cannot be set with the host's network/);
    expect(await usageError(parseRunFlags({ sysctl: ['somaxconn'] }, ctx))).toMatch(/expected NAME=VALUE/);
  });
});

describe('--expose and --label-file', () => {
  it('expands --expose ports and ranges to "PORT/PROTO" keys, naming a bad one', async () => {
    expect((await parseRunFlags({ expose: ['8080', '53/udp', '9000-9002/TCP'] }, ctx)).expose).toEqual(['8080/tcp', '53/udp', '9000/tcp', '9001/tcp', '9002/tcp']);
    expect(await usageError(parseRunFlags({ expose: ['http'] }, ctx))).toMatch(/^--expose http: expected PORT, FIRST-LAST/);
    expect(await usageError(parseRunFlags({ expose: ['70000'] }, ctx))).toMatch(/^--expose 70000:/);
  });

  it('reads label files before --label, skipping comments and blank lines, and names one it cannot read', async () => {
    writeFileSync(path.join(dir, 'labels'), '# team labels\n\nteam=blue\nflag\ntier = web\n');
    expect((await parseRunFlags({ labelFile: ['labels'], label: ['team=red'] }, ctx)).labels).toEqual({ team: 'red', flag: '', 'tier ': ' web' });
    expect(await usageError(parseRunFlags({ labelFile: ['nope'] }, ctx))).toMatch(/^--label-file nope: cannot read .*nope \(ENOENT\)/);
  });
});
