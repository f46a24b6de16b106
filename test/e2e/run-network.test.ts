/**
 * ribo run's own network: a private network namespace per container reaching
 * out through slirp4netns (or pasta), published ports, and the /etc files every container
 * expects (hosts, hostname, resolv.conf), in runs and in build RUN steps.
 */
import { execa } from 'execa';
import http from 'node:http';
import net from 'node:net';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { blobPath, listLayer, makeContext, makeStore, readImage, removeStore, ribo, riboOk, type RiboOptions } from './harness.js';
import { freePort } from '../setup/registry.js';

let root: string;
let contexts: string[] = [];
const opts = (extra: Partial<RiboOptions> = {}): RiboOptions => ({ root, ...extra });

/** GETs a URL with curl from the host, retrying (up to a minute) while the server in the container starts. */
async function curl(url: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await execa('curl', ['-sS', '--max-time', '5', url], { reject: false });
    if (result.exitCode === 0 || Date.now() > deadline) return result.exitCode === 0 ? result.stdout : `curl failed: ${result.stderr}`;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  root = await makeStore();
  const hello = await makeContext({}, 'hello');
  const web = await makeContext({
    Dockerfile: ['FROM hello', 'RUN echo served-by-httpd > /app/index.html', 'EXPOSE 80', 'CMD ["httpd", "-f", "-p", "80", "-h", "/app"]'].join('\n'),
  });
  const files = await makeContext({
    Dockerfile: [
      'FROM hello',
      'RUN cat /etc/hosts > /app/build-hosts && cat /etc/resolv.conf > /app/build-resolv && hostname > /app/build-hostname',
      'RUN --network=none cat /proc/net/dev > /app/build-none-dev',
    ].join('\n'),
  });
  contexts = [hello, web, files];
  await riboOk(['build', '-t', 'hello', hello], opts());
  await riboOk(['build', '-t', 'web', web], opts());
  await riboOk(['build', '-t', 'files', files], opts());
}, 300_000);

afterAll(async () => {
  await ribo(['rm', '-f', 'net-web', 'net-all', 'net-big', 'net-busy', 'net-repick', 'net-expose'], opts());
  await removeStore(root);
  for (const dir of contexts) await execa('rm', ['-rf', dir]);
});

describe('published ports', () => {
  it('serves busybox httpd on port 80 in the container at -p 127.0.0.1:PORT:80 on the host', async () => {
    const port = await freePort();
    await riboOk(['run', '-d', '--name', 'net-web', '-p', `127.0.0.1:${port}:80`, 'web'], opts());
    expect(await curl(`http://127.0.0.1:${port}/index.html`)).toBe('served-by-httpd');
    expect((await riboOk(['port', 'net-web'], opts())).stdout.trim()).toBe(`80/tcp -> 127.0.0.1:${port}`);
    expect((await riboOk(['port', 'net-web', '80'], opts())).stdout.trim()).toBe(`127.0.0.1:${port}`);
    expect((await riboOk(['ps'], opts())).stdout).toContain(`127.0.0.1:${port}->80/tcp`);
    const inspected = JSON.parse((await riboOk(['inspect', 'net-web'], opts())).stdout);
    const info = Array.isArray(inspected) ? inspected[0] : inspected;
    expect(info.NetworkSettings.Ports['80/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(port) }]);
    await riboOk(['rm', '-f', 'net-web'], opts());
  }, 120_000);

  it('-P publishes the EXPOSEd port on a free host port that ribo port names', async () => {
    await riboOk(['run', '-d', '--name', 'net-all', '-P', 'web'], opts());
    const line = (await riboOk(['port', 'net-all'], opts())).stdout.trim();
    const match = /^80\/tcp -> 0\.0\.0\.0:(\d+)$/.exec(line);
    expect(match).not.toBeNull();
    expect(await curl(`http://127.0.0.1:${match![1]}/index.html`)).toBe('served-by-httpd');
    await riboOk(['rm', '-f', 'net-all'], opts());
  }, 120_000);

  it('-P takes another free host port at a start that finds its own taken (as docker picks at each start), and ribo port names it', async () => {
    await riboOk(['run', '-d', '--name', 'net-repick', '-P', 'web'], opts());
    const portOf = async () => Number(/:(\d+)$/.exec((await riboOk(['port', 'net-repick', '80'], opts())).stdout.trim())![1]);
    const first = await portOf();
    await riboOk(['stop', '-t', '1', 'net-repick'], opts());
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(first, '0.0.0.0', resolve));
    try {
      await riboOk(['start', 'net-repick'], opts());
      const second = await portOf();
      expect(second).not.toBe(first);
      expect(await curl(`http://127.0.0.1:${second}/index.html`)).toBe('served-by-httpd');
    } finally {
      squatter.close();
      await ribo(['rm', '-f', 'net-repick'], opts());
    }
  }, 120_000);

  it('--expose adds ports (a range, UDP) that -P publishes beside the image\'s', async () => {
    await riboOk(['run', '-d', '--name', 'net-expose', '-P', '--expose', '8080-8081', '--expose', '53/udp', 'web'], opts());
    try {
      const lines = (await riboOk(['port', 'net-expose'], opts())).stdout.trim().split('\n').map((l) => l.replace(/:\d+$/, ':N')).sort();
      expect(lines).toEqual(['53/udp -> 0.0.0.0:N', '80/tcp -> 0.0.0.0:N', '8080/tcp -> 0.0.0.0:N', '8081/tcp -> 0.0.0.0:N']);
      const web = /:(\d+)$/.exec((await riboOk(['port', 'net-expose', '80'], opts())).stdout.trim())![1];
      expect(await curl(`http://127.0.0.1:${web}/index.html`)).toBe('served-by-httpd');
    } finally {
      await ribo(['rm', '-f', 'net-expose'], opts());
    }
  }, 120_000);

  it('carries a large download whole (socat listeners, port-proxy.ts), and stops listening once the container is removed', async () => {
    const port = await freePort();
    const size = 64 * 1024 * 1024;
    await riboOk(['run', '-d', '--name', 'net-big', '-p', `127.0.0.1:${port}:8080`, 'hello', 'sh', '-c', `mkdir -p /www && head -c ${size} /dev/zero > /www/big && exec httpd -f -p 8080 -h /www`], opts());
    let got = '';
    // Retried (up to a minute) while httpd starts; every try must bring the whole file to end it.
    for (let i = 0, deadline = Date.now() + 60_000; got !== String(size) && Date.now() < deadline; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      got = (await execa('curl', ['-sf', '--max-time', '60', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${port}/big`], { reject: false })).stdout;
    }
    expect(got).toBe(String(size));
    await riboOk(['rm', '-f', 'net-big'], opts());
    const after = await execa('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/big`], { reject: false });
    // 7: could not connect; nothing of the container listens any more.
    expect(after.exitCode).toBe(7);
    expect((await execa('pgrep', ['-c', '-f', `(socat|pasta) .*${root}/containers`], { reject: false })).stdout.trim()).toBe('0');
  }, 180_000);

  it('refuses a host port already in use, naming it, detached or not', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      for (const mode of [['-d', '--name', 'net-busy'], ['--rm']]) {
        const result = await ribo(['run', ...mode, '-p', `127.0.0.1:${port}:80`, 'web'], opts());
        expect(result.exitCode).not.toBe(0);
        expect(result.stderr).toContain(`host port ${port} is already in use`);
        await ribo(['rm', '-f', 'net-busy'], opts());
      }
    } finally {
      server.close();
    }
  }, 120_000);

  it('refuses -p with --network host or none, naming the flag', async () => {
    for (const mode of ['host', 'none']) {
      const result = await ribo(['run', '--rm', '--network', mode, '-p', '8080:80', 'hello', 'true'], opts());
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('-p 8080:80');
      expect(result.stderr).toContain(`--network ${mode}`);
    }
  });
});

describe('the default network', () => {
  it('reaches a server on the host\'s 127.0.0.1 through host.containers.internal', async () => {
    const server = http.createServer((_req, res) => res.end('hello-from-host'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const out = await riboOk(['run', '--rm', 'hello', 'wget', '-q', '-O-', `http://host.containers.internal:${port}/`], opts());
      expect(out.stdout).toBe('hello-from-host');
    } finally {
      server.close();
    }
  }, 120_000);

  it('is set up the same by a planned run (bin/run-plan.sh), which leaves no helper behind', async () => {
    const server = http.createServer((_req, res) => res.end('planned-reached-host'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    // The network helpers, and the holder of the namespaces a planned run makes before crun (bin/run-plan.sh,
    // make_namespaces). A planned run's slirp4netns names the holder's /proc/PID/ns, not the container's dir:
    // all are counted, against the count before (the detached containers above have theirs), until it is back.
    const count = async () => Number((await execa('pgrep', ['-c', '-f', `^(slirp4netns|pasta) |^cat .*${root}/containers`], { reject: false })).stdout.trim());
    const before = await count();
    const helpers = async () => {
      for (const deadline = Date.now() + 5000; (await count()) !== before && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
      return (await count()) - before;
    };
    try {
      const run = () => riboOk(['run', '--rm', 'hello', 'sh', '-c', `wget -q -O- http://host.containers.internal:${port}/; echo; cat /etc/hostname; hostname; ls /sys/class/net`], opts());
      const first = (await run()).stdout;
      await access(path.join(root, 'run-plans', 'crun', 'hello.plan'));
      const planned = (await run()).stdout;
      for (const out of [first, planned]) {
        const [body, file, name, ...devices] = out.split('\n');
        expect(body).toBe('planned-reached-host');
        expect(file).toMatch(/^[0-9a-f]{12}$/);
        expect(name).toBe(file);
        expect(devices).toContain('lo');
        expect(devices.length).toBe(2);
      }
      expect(await helpers()).toBe(0);
    } finally {
      server.close();
    }
  }, 120_000);

  it('--network pasta reaches the host too, on the host\'s interface name and pasta\'s DNS forwarder', async () => {
    const server = http.createServer((_req, res) => res.end('pasta-reached-host'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const out = (await riboOk(['run', '--rm', '--network', 'pasta', 'hello', 'sh', '-c', `wget -q -O- http://host.containers.internal:${port}/; echo; cat /etc/resolv.conf`], opts())).stdout;
      expect(out).toContain('pasta-reached-host');
      expect(out).toMatch(/^nameserver 169\.254\.1\.1$/m);
    } finally {
      server.close();
    }
  }, 120_000);

  it('is slirp4netns (as rootless podman 4 and docker give), and refuses UDP ports there when named', async () => {
    const server = http.createServer((_req, res) => res.end('slirp-reached-host'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const out = (await riboOk(['run', '--rm', '--network', 'slirp4netns', 'hello', 'sh', '-c', `wget -q -O- http://host.containers.internal:${port}/; echo; ls /sys/class/net; cat /etc/resolv.conf`], opts())).stdout;
      expect(out).toContain('slirp-reached-host');
      expect(out).toMatch(/^eth0$/m);
      expect(out).toMatch(/^nameserver 10\.0\.2\.3$/m);
    } finally {
      server.close();
    }
    // The default network is the same, through Node and planned.
    for (let i = 0; i < 2; i++) expect((await riboOk(['run', '--rm', 'hello', 'cat', '/etc/resolv.conf'], opts())).stdout).toMatch(/^nameserver 10\.0\.2\.3$/m);
    const refused = await ribo(['run', '--rm', '--network', 'slirp4netns', '-p', '5353:53/udp', 'hello', 'true'], opts());
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('-p: slirp4netns (--network slirp4netns) publishes only TCP ports');
  }, 120_000);

  it('is IPv4 only, as docker\'s default bridge is: no global IPv6 address, through Node and planned', async () => {
    // /proc/net/if_inet6: address, index, prefix length, scope (00 global, 20 link, 10 host), flags, interface.
    const globalIpv6 = (out: string) => out.split('\n').filter((line) => line.split(/\s+/)[3] === '00');
    const read = () => riboOk(['run', '--rm', 'hello', 'sh', '-c', 'cat /proc/net/if_inet6; echo; cat /proc/net/route'], opts());
    for (const out of [(await read()).stdout, (await read()).stdout]) {
      expect(globalIpv6(out)).toEqual([]);
      // An IPv4 default route on eth0.
      expect(out).toMatch(/^eth0\s+00000000\s+[0-9A-F]{8}\s/m);
    }
  });

  it('has its own interfaces in /sys/class/net; --network none shows only lo there', async () => {
    const own = (await riboOk(['run', '--rm', 'hello', 'ls', '/sys/class/net'], opts())).stdout.trim().split('\n');
    expect(own).toContain('lo');
    expect(own.length).toBe(2);
    const none = (await riboOk(['run', '--rm', '--network', 'none', 'hello', 'ls', '/sys/class/net'], opts())).stdout.trim();
    expect(none).toBe('lo');
  });

  it('gives /etc/hosts, /etc/hostname and /etc/resolv.conf, with --dns and --add-host', async () => {
    const out = (await riboOk(['run', '--rm', '--name', 'named-one', '--hostname', 'box', '--dns', '192.0.2.53', '--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway',
      'hello', 'sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/hostname; hostname; echo ---; cat /etc/resolv.conf; ping -c 1 localhost | head -n 1'], opts())).stdout;
    const [hosts, names, resolv] = out.split('---\n');
    expect(hosts).toMatch(/^127\.0\.0\.1\s+localhost$/m);
    expect(hosts).toMatch(/^::1\s+localhost ip6-localhost/m);
    expect(hosts).toMatch(/\sbox named-one$/m);
    expect(hosts).toMatch(/^10\.1\.2\.3\s+db$/m);
    expect(hosts).toMatch(/^\S+\s+host\.containers\.internal host\.docker\.internal$/m);
    const gateway = /^(\S+)\s+host\.containers\.internal/m.exec(hosts!)![1];
    expect(hosts).toMatch(new RegExp(`^${gateway!.replace(/\./g, '\\.')}\\s+gw$`, 'm'));
    expect(names!.trim().split('\n')).toEqual(['box', 'box']);
    expect(resolv).toMatch(/^nameserver 192\.0\.2\.53$/m);
    expect(resolv).toContain('PING localhost (127.0.0.1)');
    const plain = (await riboOk(['run', '--rm', 'hello', 'cat', '/etc/resolv.conf'], opts())).stdout;
    // slirp4netns's DNS forwarder (pasta's is 169.254.1.1, above).
    expect(plain).toMatch(/^nameserver 10\.0\.2\.3$/m);
    const hostNet = (await riboOk(['run', '--rm', '--network', 'host', 'hello', 'cat', '/etc/resolv.conf'], opts())).stdout;
    expect(hostNet.trim()).toBe((await readFile('/etc/resolv.conf', 'utf8')).trim());
  });
});

describe('build RUN steps', () => {
  it('see /etc/hosts and the host\'s resolv.conf, which never reach a layer', async () => {
    const out = (await riboOk(['run', '--rm', 'files', 'sh', '-c', 'cat /app/build-hosts; echo ---; cat /app/build-resolv; echo ---; cat /app/build-hostname; echo ---; tail -n +3 /app/build-none-dev | cut -d: -f1 | tr -d " "'], opts())).stdout;
    const [hosts, resolv, hostname, noneDev] = out.split('---\n');
    expect(hosts).toMatch(/^127\.0\.0\.1\s+localhost$/m);
    expect(hosts).toMatch(/\sribo-build$/m);
    expect(resolv).toBe(await readFile('/etc/resolv.conf', 'utf8'));
    expect(hostname!.trim()).toBe('ribo-build');
    expect(noneDev!.trim()).toBe('lo');
    const image = await readImage(root, 'files:latest');
    for (const layer of image.manifest.layers) {
      const names = (await listLayer(blobPath(root, layer.digest))).map((e) => e.path.replace(/^\.?\//, ''));
      expect(names.filter((n) => ['etc/hosts', 'etc/hostname', 'etc/resolv.conf'].includes(n))).toEqual([]);
    }
  });
});
