/**
 * Networks between containers (`ribo network`, `run --network NAME`,
 * `--network-alias`, `--network container:NAME`), as the unprivileged user:
 * containers on one network reach each other by name and alias, nothing on
 * another network or the default one reaches them, and removing a network
 * leaves none of its processes running.
 */
import { execa } from 'execa';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { makeContext, makeStore, removeStore, ribo, riboOk, type RiboOptions } from './harness.js';
import { freePort } from '../setup/registry.js';

let root: string;
let context: string;
const opts = (extra: Partial<RiboOptions> = {}): RiboOptions => ({ root, ...extra });

/** A busybox httpd on port 80 serving `body` at /index.html. */
const serve = (body: string) => ['sh', '-c', `mkdir -p /tmp/www && echo ${body} > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www`];

/** A shell fragment fetching URL, retrying while the server starts; prints the body or "failed". */
const fetchScript = (url: string, tries = 50) => `(for i in $(seq ${tries}); do timeout 5 wget -q -O - ${url} && exit 0; sleep 0.2; done; echo failed)`;
const fetchIn = (url: string, tries = 50) => ['sh', '-c', fetchScript(url, tries)];

/** The processes (pid and command line) whose command line names `text`. */
async function processesNaming(text: string): Promise<string[]> {
  const out = (await execa('ps', ['-eo', 'pid=,args='], { reject: false })).stdout;
  return out.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

async function holderPid(network: string): Promise<number> {
  const holder = JSON.parse(await readFile(path.join(root, 'networks', network, 'holder.json'), 'utf8')) as { pid: number };
  return holder.pid;
}

/** Whether `pid` runs (a zombie no longer does). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({}, 'hello');
  await riboOk(['build', '-t', 'hello', context], opts());
}, 300_000);

afterAll(async () => {
  await ribo(['rm', '-f', 'rn-db', 'rn-side', 'rn-web', 'rn-crash'], opts());
  await ribo(['network', 'rm', '-f', 'rn-front', 'rn-other', 'rn-spare'], opts());
  await removeStore(root);
  await execa('rm', ['-rf', context]);
}, 120_000);

describe('ribo network', () => {
  it('creates networks with their own subnets, lists and inspects them', async () => {
    expect((await riboOk(['network', 'create', 'rn-front'], opts())).stdout.trim()).toBe('rn-front');
    await riboOk(['network', 'create', '--subnet', '10.89.77.0/24', 'rn-other'], opts());
    const ls = (await riboOk(['network', 'ls'], opts())).stdout.split('\n');
    expect(ls[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SUBNET$/);
    expect(ls.find((l) => l.includes('rn-other'))).toMatch(/^[0-9a-f]{12}\s+rn-other\s+bridge\s+10\.89\.77\.0\/24$/);
    expect((await riboOk(['network', 'ls', '-q'], opts())).stdout.split('\n').filter(Boolean).sort()).toEqual(['rn-front', 'rn-other']);
    const [front] = JSON.parse((await riboOk(['network', 'inspect', 'rn-front'], opts())).stdout);
    expect(front.Name).toBe('rn-front');
    expect(front.Driver).toBe('bridge');
    expect(front.IPAM.Config[0].Subnet).toMatch(/^10\.89\.\d+\.0\/24$/);
    expect(front.IPAM.Config[0].Subnet).not.toBe('10.89.77.0/24');
    expect(front.Containers).toEqual({});
    expect((await riboOk(['network', 'inspect', '-f', '{{.IPAM.Config}}', 'rn-other'], opts())).stdout).toContain('10.89.77.1');
    const again = await ribo(['network', 'create', 'rn-front'], opts());
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr).toContain('exists already');
    const reserved = await ribo(['network', 'create', 'host'], opts());
    expect(reserved.exitCode).not.toBe(0);
    expect(reserved.stderr).toContain('network mode');
    // Stored with the store's permissions.
    const mode = (await execa('stat', ['-c', '%a', path.join(root, 'networks', 'rn-front'), path.join(root, 'networks', 'rn-front', 'network.json')])).stdout.split('\n');
    expect(mode).toEqual(['700', '600']);
  }, 120_000);

  it('refuses an unknown network, and -p with container:NAME', async () => {
    const unknown = await ribo(['run', '--rm', '--network', 'rn-nowhere', 'hello', 'true'], opts());
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('ribo network create rn-nowhere');
    const published = await ribo(['run', '--rm', '--network', 'container:rn-nothing', '-p', '8080:80', 'hello', 'true'], opts());
    expect(published.exitCode).not.toBe(0);
    expect(published.stderr).toContain('-p 8080:80');
  }, 120_000);
});

describe('containers on one network', () => {
  it('reach each other by container name and by --network-alias', async () => {
    await riboOk(['run', '-d', '--name', 'rn-db', '--network', 'rn-front', '--network-alias', 'db', 'hello', ...serve('db-says-hi')], opts());
    const out = await riboOk(['run', '--rm', '--network', 'rn-front', 'hello', 'sh', '-c', `${fetchScript('http://rn-db/index.html')}; ${fetchScript('http://db/index.html')}; cat /etc/resolv.conf`], opts());
    const [byName, byAlias, ...resolv] = out.stdout.split('\n');
    expect(byName).toBe('db-says-hi');
    expect(byAlias).toBe('db-says-hi');
    const [front] = JSON.parse((await riboOk(['network', 'inspect', 'rn-front'], opts())).stdout);
    expect(resolv).toContain(`nameserver ${front.IPAM.Config[0].Gateway}`);
    const attached = Object.values(front.Containers) as { Name: string; IPv4Address: string }[];
    expect(attached.map((c) => c.Name)).toEqual(['rn-db']);
    expect(attached[0]!.IPv4Address.startsWith(front.IPAM.Config[0].Subnet.replace(/0\/24$/, ''))).toBe(true);
    // The server's own /etc/hosts names it with its address on the network.
    const hosts = (await riboOk(['exec', 'rn-db', 'cat', '/etc/hosts'], opts())).stdout;
    const own = hosts.split('\n').find((l) => l.startsWith(`${attached[0]!.IPv4Address.replace('/24', '')}\t`));
    expect(own?.split(/\s+/)).toContain('rn-db');
  }, 120_000);

  it('are not reached from another network or from the default network, by name or by address', async () => {
    const [front] = JSON.parse((await riboOk(['network', 'inspect', 'rn-front'], opts())).stdout);
    const address = (Object.values(front.Containers)[0] as { IPv4Address: string }).IPv4Address.replace('/24', '');
    for (const network of ['rn-other', 'bridge']) {
      const out = (await ribo(['run', '--rm', '--network', network, 'hello', 'sh', '-c', `${fetchScript('http://db/index.html', 1)}; ${fetchScript(`http://${address}/index.html`, 1)}`], opts())).stdout;
      expect(out).not.toContain('db-says-hi');
      expect(out.split('\n').filter((l) => l === 'failed').length).toBe(2);
    }
  }, 120_000);

  it('--network container:NAME shares the other container\'s network: its server is on localhost', async () => {
    const out = await riboOk(['run', '--rm', '--network', 'container:rn-db', 'hello', 'sh', '-c', `${fetchScript('http://localhost/index.html')}; hostname`], opts());
    const dbHost = (await riboOk(['exec', 'rn-db', 'hostname'], opts())).stdout.trim();
    expect(out.stdout.trim().split('\n')).toEqual(['db-says-hi', dbHost]);
    // A detached one too, and it resolves the network's names as the container it joins does.
    await riboOk(['run', '-d', '--name', 'rn-side', '--network', 'container:rn-db', 'hello', 'sleep', '600'], opts());
    expect((await riboOk(['exec', 'rn-side', ...fetchIn('http://db/index.html')], opts())).stdout.trim()).toBe('db-says-hi');
    await riboOk(['rm', '-f', 'rn-side'], opts());
  }, 120_000);

  it('reach the host through host.containers.internal (pasta in the network\'s namespace)', async () => {
    const server = http.createServer((_req, res) => res.end('host-answers-network'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const out = await riboOk(['run', '--rm', '--network', 'rn-front', 'hello', 'wget', '-q', '-O-', `http://host.containers.internal:${port}/`], opts());
      expect(out.stdout).toBe('host-answers-network');
    } finally {
      server.close();
    }
  }, 120_000);

  it('publish ports with -p, reached on the host\'s loopback and its other addresses', async () => {
    const port = await freePort();
    await riboOk(['run', '-d', '--name', 'rn-web', '--network', 'rn-front', '-p', `${port}:80`, 'hello', ...serve('web-on-network')], opts());
    const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    for (const address of ['127.0.0.1', ...(external ? [external] : [])]) {
      let body = '';
      // Retried (up to a minute) while httpd starts.
      for (const deadline = Date.now() + 60_000; body !== 'web-on-network' && Date.now() < deadline;) {
        body = (await execa('curl', ['-sS', '--max-time', '5', `http://${address}:${port}/index.html`], { reject: false })).stdout.trim();
        if (body !== 'web-on-network') await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(`${address}: ${body}`).toBe(`${address}: web-on-network`);
    }
    expect((await riboOk(['port', 'rn-web'], opts())).stdout.trim()).toBe(`80/tcp -> 0.0.0.0:${port}`);
    // It is on the network too, and goes out through the network, not the ports' interface.
    const out = await riboOk(['run', '--rm', '--network', 'rn-front', 'hello', ...fetchIn('http://rn-web/index.html')], opts());
    expect(out.stdout.trim()).toBe('web-on-network');
    await riboOk(['rm', '-f', 'rn-web'], opts());
  }, 120_000);

  it('a stopped container starts again on its network, with its names', async () => {
    await riboOk(['stop', '-t', '1', 'rn-db'], opts());
    await riboOk(['start', 'rn-db'], opts());
    expect((await riboOk(['run', '--rm', '--network', 'rn-front', 'hello', ...fetchIn('http://db/index.html')], opts())).stdout.trim()).toBe('db-says-hi');
  }, 120_000);
});

describe('removing networks', () => {
  it('network rm is refused while a container uses the network, naming it', async () => {
    const refused = await ribo(['network', 'rm', 'rn-front'], opts());
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('rn-db');
    expect((await riboOk(['network', 'ls', '-q'], opts())).stdout).toContain('rn-front');
  }, 120_000);

  it('the network\'s holder, pasta and aardvark-dns run while a container is attached and stop with the last one', async () => {
    const dir = path.join(root, 'networks', 'rn-front');
    const holder = await holderPid('rn-front');
    expect(await alive(holder)).toBe(true);
    expect((await processesNaming(dir)).length).toBeGreaterThanOrEqual(2);
    await riboOk(['rm', '-f', 'rn-db'], opts());
    expect(await alive(holder)).toBe(false);
    expect(await processesNaming(dir)).toEqual([]);
    expect((await riboOk(['network', 'rm', 'rn-front'], opts())).stdout.trim()).toBe('rn-front');
    expect((await riboOk(['network', 'ls', '-q'], opts())).stdout).not.toContain('rn-front');
  }, 120_000);

  it('a foreground run on a network leaves nothing running, and network prune removes every unused network', async () => {
    await riboOk(['network', 'create', 'rn-spare'], opts());
    const out = await riboOk(['run', '--rm', '--network', 'rn-spare', 'hello', 'sh', '-c', 'ip -4 addr show eth0 | grep -c inet'], opts());
    expect(out.stdout.trim()).toBe('1');
    const holder = await holderPid('rn-spare').catch(() => undefined);
    if (holder !== undefined) expect(await alive(holder)).toBe(false);
    expect(await processesNaming(path.join(root, 'networks'))).toEqual([]);
    // A container whose monitor was killed: the crash clean-up (here that of ribo ps) takes it off the network, which stops.
    await riboOk(['run', '-d', '--name', 'rn-crash', '--network', 'rn-spare', 'hello', 'sleep', '600'], opts());
    const crashHolder = await holderPid('rn-spare');
    const [info] = JSON.parse((await riboOk(['inspect', 'rn-crash'], opts())).stdout);
    process.kill(info.State.MonitorPid, 'SIGKILL');
    expect((await riboOk(['ps', '-a'], opts())).stdout).toMatch(/rn-crash/);
    expect(await alive(crashHolder)).toBe(false);
    expect(await processesNaming(path.join(root, 'networks'))).toEqual([]);
    expect(JSON.parse((await riboOk(['network', 'inspect', 'rn-spare'], opts())).stdout)[0].Containers).toEqual({});
    await riboOk(['rm', 'rn-crash'], opts());
    const pruned = await riboOk(['network', 'prune', '-f'], opts());
    expect(pruned.stdout.split('\n')).toEqual(expect.arrayContaining(['Deleted Networks:', 'rn-spare', 'rn-other']));
    expect((await riboOk(['network', 'ls', '-q'], opts())).stdout.trim()).toBe('');
  }, 120_000);
});
