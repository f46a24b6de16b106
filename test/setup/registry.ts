/**
 * Registries on loopback for the registry tests: Debian's docker-registry
 * binary (never its systemd service) started on a free port with its storage
 * in a temp dir, plain, with htpasswd basic auth, or with token auth against a
 * small token server of our own; plus a proxy that counts, corrupts or slows
 * down blob downloads.
 */
import { execa, type ResultPromise } from 'execa';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Users {
  [name: string]: string;
}

export interface RunningRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Whether a TCP listener could bind `port` on every IPv4 address now (which a loopback one also blocks). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port free now, for a server that another process binds later. Picked
 * below the kernel's ephemeral range (ip_local_port_range): a port that
 * listen(0) handed out is in that range, where any connection made or port
 * given meanwhile, by any process, can take it before the server binds it.
 */
export async function freePort(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768 60999');
  const low = Number(range.trim().split(/\s+/)[0]);
  const floor = 10_000;
  for (let attempt = 0; attempt < 100 && low - floor >= 1000; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (await canListen(port)) return port;
  }
  // An unusual range: a port listen(0) gives.
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForHttp(url: string, process: ResultPromise): Promise<void> {
  // Up to a minute: the registry may start slowly on a loaded machine.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (process.exitCode !== null && process.exitCode !== undefined) throw new Error(`the registry exited: ${(await process.catch((e) => e)).stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      http.get(url, (res) => {
        res.resume();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing answers at ${url}`);
}

export type RegistryAuth = { kind: 'none' } | { kind: 'htpasswd'; users: Users } | { kind: 'token'; token: TokenServer };

/** Starts `docker-registry serve CONFIG` on a free loopback port (with `tls`, https with a certificate for 127.0.0.1 in DIR/cert.pem). */
export async function startRegistry(auth: RegistryAuth = { kind: 'none' }, options: { tls?: boolean } = {}): Promise<RunningRegistry & { certFile?: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-registry-'));
  const port = await freePort();
  let authConfig = '';
  let tlsConfig = '';
  if (options.tls) {
    await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    await execa('chmod', ['a+rx', dir]);
    await execa('chmod', ['a+r', `${dir}/cert.pem`]);
    tlsConfig = `  tls:\n    certificate: ${dir}/cert.pem\n    key: ${dir}/key.pem\n`;
  }
  if (auth.kind === 'htpasswd') {
    const lines: string[] = [];
    for (const [user, password] of Object.entries(auth.users)) lines.push((await execa('htpasswd', ['-Bbn', user, password])).stdout.trim());
    await writeFile(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
    authConfig = `auth:\n  htpasswd:\n    realm: ribo-test\n    path: ${dir}/htpasswd\n`;
  } else if (auth.kind === 'token') {
    authConfig = `auth:\n  token:\n    realm: ${auth.token.realm}\n    service: ${auth.token.service}\n    issuer: ${auth.token.issuer}\n    rootcertbundle: ${auth.token.certFile}\n`;
  }
  const config = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${tlsConfig}${authConfig}`;
  await writeFile(path.join(dir, 'config.yml'), config);
  const child = execa('docker-registry', ['serve', path.join(dir, 'config.yml')], { reject: false, env: { OTEL_TRACES_EXPORTER: 'none' } });
  await waitForHttp(`http://127.0.0.1:${port}/v2/`, child);
  return {
    host: `127.0.0.1:${port}`,
    ...(options.tls ? { certFile: `${dir}/cert.pem` } : {}),
    dataDir: path.join(dir, 'data'),
    stop: async () => {
      child.kill('SIGKILL');
      await child.catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Token requests seen, as "user scope…". */
  requests: string[];
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * A bearer token service: checks Basic credentials against `users` and hands
 * out RS256 JWTs (the signing certificate in the x5c header, trusted by the
 * registry through rootcertbundle) granting whatever the scopes ask for.
 * Anonymous requests are refused.
 */
export async function startTokenServer(users: Users): Promise<TokenServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-token-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=ribo-test-token']);
  const key = await readFile(keyFile, 'utf8');
  const certDer = new X509Certificate(await readFile(certFile)).raw;
  const service = 'ribo-test-registry';
  const issuer = 'ribo-test-issuer';
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const header = req.headers.authorization ?? '';
    const decoded = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    const user = decoded.slice(0, decoded.indexOf(':'));
    const password = decoded.slice(decoded.indexOf(':') + 1);
    const scopes = url.searchParams.getAll('scope');
    requests.push(`${user || '-'} ${scopes.join(' ')}`.trim());
    if (!user || users[user] !== password) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    const access = scopes.map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const now = Math.floor(Date.now() / 1000);
    const headerPart = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] }));
    const claims = base64url(JSON.stringify({ iss: issuer, sub: user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signer = createSign('RSA-SHA256');
    signer.update(`${headerPart}.${claims}`);
    const token = `${headerPart}.${claims}.${base64url(signer.sign(key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ProxyBehaviour {
  /** Flip a byte in the middle of this blob's body. */
  corruptDigest?: string;
  /** Send this blob's body slowly, in 32 KiB pieces this many ms apart. */
  slowDigest?: string;
  slowDelayMs?: number;
  /** Answer the first GET of this blob with 503 Service Unavailable. */
  failOnceDigest?: string;
  /** Cut the connection halfway through the first GET of this blob. */
  cutOnceDigest?: string;
}

export interface Proxy {
  host: string;
  /** "GET /v2/…" for every request, in order. */
  requests: string[];
  /** The Range header of every blob GET that had one, as "DIGEST bytes=N-". */
  ranges: string[];
  behaviour: ProxyBehaviour;
  stop(): Promise<void>;
}

/** An HTTP proxy in front of a registry that records requests and can damage or slow one blob. */
export async function startProxy(target: string, behaviour: ProxyBehaviour = {}): Promise<Proxy> {
  const requests: string[] = [];
  const ranges: string[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const requested = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
    if (requested && req.headers.range) ranges.push(`${requested} ${req.headers.range}`);
    if (req.method === 'GET' && proxy.behaviour.failOnceDigest && req.url?.endsWith(`/blobs/${proxy.behaviour.failOnceDigest}`)) {
      proxy.behaviour.failOnceDigest = undefined;
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('try again later');
      return;
    }
    const upstream = http.request(`http://${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: target }, agent }, async (up) => {
      const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
      const headers = { ...up.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(`http://${target}`, `http://${proxy.host}`);
      res.writeHead(up.statusCode ?? 502, headers);
      if (req.method === 'GET' && digest && digest === proxy.behaviour.cutOnceDigest) {
        proxy.behaviour.cutOnceDigest = undefined;
        const half = Math.floor(Number(headers['content-length'] ?? 0) / 2);
        let sent = 0;
        for await (const chunk of up as AsyncIterable<Buffer>) {
          const piece = chunk.subarray(0, Math.max(0, half - sent));
          sent += piece.length;
          if (piece.length > 0) await new Promise((resolve) => res.write(piece, resolve));
          if (sent >= half) break;
        }
        up.destroy();
        res.socket?.destroy();
        return;
      }
      if (req.method !== 'GET' || !digest || (digest !== proxy.behaviour.corruptDigest && digest !== proxy.behaviour.slowDigest)) {
        up.pipe(res);
        return;
      }
      let offset = 0;
      for await (const chunk of up as AsyncIterable<Buffer>) {
        for (let start = 0; start < chunk.length; start += 32 * 1024) {
          const piece = Buffer.from(chunk.subarray(start, start + 32 * 1024));
          const size = Number(headers['content-length'] ?? 0);
          const middle = Math.floor(size / 2);
          if (digest === proxy.behaviour.corruptDigest && middle >= offset && middle < offset + piece.length) piece[middle - offset] ^= 0xff;
          offset += piece.length;
          if (res.destroyed) return;
          res.write(piece);
          if (digest === proxy.behaviour.slowDigest) await sleep(proxy.behaviour.slowDelayMs ?? 100);
        }
      }
      res.end();
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: Proxy = {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    requests,
    ranges,
    behaviour,
    stop: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return proxy;
}

/** The blob GETs among a proxy's requests, as digests. */
export function blobGets(requests: string[]): string[] {
  return requests.filter((r) => r.startsWith('GET ') && r.includes('/blobs/sha256:')).map((r) => r.slice(r.indexOf('/blobs/') + 7));
}
