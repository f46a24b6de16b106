/**
 * ADD beyond COPY, as a user sees it: local tar archives (plain, gzip, bzip2,
 * xz) unpacked at the destination, --unpack=false, and http(s) URLs served by
 * this test process (the https one with a self-signed CA the user trusts
 * through NODE_EXTRA_CA_CERTS), with --checksum.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';

const BODY = 'served over http\n';
const BODY_DIGEST = `sha256:${createHash('sha256').update(BODY).digest('hex')}`;
const LAST_MODIFIED = new Date('2001-02-03T04:05:06Z');
/** Layer mtimes are clamped to SOURCE_DATE_EPOCH: set it late enough to see Last-Modified. */
const EPOCH = '2000000000';

let root: string;
let context: string;
let certDir: string;
let httpServer: http.Server;
let httpsServer: https.Server;
let httpUrl: string;
let httpsUrl: string;

/** /versioned.txt: its content and ETag change with `version`; it answers 304 to the current ETag. */
let version = 1;
const versionedRequests: Array<{ ifNoneMatch: string; status: number }> = [];

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/versioned.txt') {
    const ifNoneMatch = String(req.headers['if-none-match'] ?? '');
    const status = ifNoneMatch === `"v${version}"` ? 304 : 200;
    versionedRequests.push({ ifNoneMatch, status });
    res.writeHead(status, { etag: `"v${version}"` });
    res.end(status === 200 ? `version ${version}\n` : undefined);
  } else if (req.url === '/files/hello.txt') {
    res.writeHead(200, { 'content-type': 'text/plain', 'last-modified': LAST_MODIFIED.toUTCString() });
    res.end(BODY);
  } else if (req.url === '/moved') {
    res.writeHead(302, { location: '/files/hello.txt' });
    res.end();
  } else if (req.url === '/download?id=7') {
    res.writeHead(200, { 'content-disposition': 'attachment; filename="report.csv"' });
    res.end('a,b\n');
  } else {
    res.writeHead(404);
    res.end('not here');
  }
}

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function sh(script: string, image: string): Promise<string> {
  return (await riboOk(['run', '--rm', image, 'sh', '-c', script], { root })).stdout.trim();
}

beforeAll(async () => {
  root = await makeStore();
  certDir = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-ca-'));
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')]);
  await chmod(certDir, 0o755);
  await chmod(path.join(certDir, 'cert.pem'), 0o644);
  httpServer = http.createServer(serve);
  httpsServer = https.createServer({ key: await readFile(path.join(certDir, 'key.pem')), cert: await readFile(path.join(certDir, 'cert.pem')) }, serve);
  httpUrl = `http://127.0.0.1:${await listen(httpServer)}`;
  httpsUrl = `https://127.0.0.1:${await listen(httpsServer)}`;

  context = await makeContext({
    'base.Dockerfile': 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n',
    'tree/a.txt': 'a\n',
    'tree/sub/b.txt': 'b\n',
    'fake.tar.gz': 'not really an archive\n',
  }, 'hello');
  await chmod(path.join(context, 'tree/a.txt'), 0o640);
  const tar = (name: string, ...flags: string[]) => execa('tar', ['-C', path.join(context, 'tree'), '--owner=1234', '--group=2345', '--numeric-owner', ...flags, '-cf', path.join(context, name), '.']);
  await tar('plain.tar');
  await tar('gz.tar.gz', '-z');
  await tar('bz.tbz', '-j');
  await tar('xz.tar.xz', '-J');
  await mkdir(path.join(context, 'unused'), { recursive: true });
  await execa('chmod', ['-R', 'a+rX', context]);
  await riboOk(['build', '-t', 'base:latest', '-f', `${context}/base.Dockerfile`, context], { root });
});

afterAll(async () => {
  httpServer?.close();
  httpsServer?.close();
  await removeStore(root);
  await execa('rm', ['-rf', context, certDir]);
});

it('unpacks local tar archives of every compression, keeping their owners and modes', async () => {
  await writeFile(path.join(context, 'Dockerfile'), `FROM base:latest
ADD plain.tar /plain/
ADD gz.tar.gz /gz
ADD bz.tbz xz.tar.xz /multi/
ADD --unpack=false gz.tar.gz /packed/
ADD fake.tar.gz /raw/
`);
  await riboOk(['build', '-t', 'add-local:latest', context], { root });
  for (const dir of ['/plain', '/gz', '/multi']) {
    expect(await sh(`cd ${dir} && cat a.txt sub/b.txt && stat -c "%u:%g %a" a.txt sub`, 'add-local:latest')).toBe('a\nb\n1234:2345 640\n1234:2345 755');
  }
  expect(await sh('ls /packed; gzip -dc /packed/gz.tar.gz | tar -t | sort | head -2', 'add-local:latest')).toBe('gz.tar.gz\n./\n./a.txt');
  expect(await sh('cat /raw/fake.tar.gz', 'add-local:latest')).toBe('not really an archive');
});

it('downloads http URLs: name from the URL or Content-Disposition, mode 600, mtime from Last-Modified, redirects followed', async () => {
  await writeFile(path.join(context, 'Dockerfile'), `FROM base:latest
ADD ${httpUrl}/files/hello.txt /web/
ADD --checksum=${BODY_DIGEST} ${httpUrl}/moved /web/checked.txt
ADD --chmod=644 ${httpUrl}/download?id=7 /web/
`);
  await riboOk(['build', '-t', 'add-url:latest', context], { root, env: { SOURCE_DATE_EPOCH: EPOCH } });
  expect(await sh('cd /web && ls && cat hello.txt checked.txt && stat -c "%n %a %u %Y" hello.txt checked.txt report.csv', 'add-url:latest')).toBe([
    'checked.txt', 'hello.txt', 'report.csv',
    'served over http', 'served over http',
    `hello.txt 600 0 ${LAST_MODIFIED.getTime() / 1000}`,
    `checked.txt 600 0 ${LAST_MODIFIED.getTime() / 1000}`,
    `report.csv 644 0 ${EPOCH}`,
  ].join('\n'));
});

it('asks whether a URL changed (ETag) instead of downloading it again; --no-cache downloads; a kept --checksum asks nothing', async () => {
  const dockerfile = (add: string) => writeFile(path.join(context, 'Dockerfile'), `FROM base:latest\n${add}\nRUN cat /v.txt > /copy.txt\n`);
  const build = async (...flags: string[]) => (await riboOk(['build', '-q', ...flags, '-t', 'versioned:1', context], { root })).stdout.trim();
  await dockerfile(`ADD ${httpUrl}/versioned.txt /v.txt`);
  const first = await build();
  expect(await sh('cat /copy.txt', 'versioned:1')).toBe('version 1');
  expect(versionedRequests.at(-1)).toEqual({ ifNoneMatch: '', status: 200 });

  // Unchanged: one conditional request answered 304, and every step cached.
  expect(await build()).toBe(first);
  expect(versionedRequests.at(-1)).toEqual({ ifNoneMatch: '"v1"', status: 304 });

  version = 2;
  expect(await build()).not.toBe(first);
  expect(versionedRequests.at(-1)).toEqual({ ifNoneMatch: '"v1"', status: 200 });
  expect(await sh('cat /copy.txt', 'versioned:1')).toBe('version 2');

  await build('--no-cache');
  expect(versionedRequests.at(-1)).toEqual({ ifNoneMatch: '', status: 200 });

  // The kept copy has the digest asked for: no request, and the step runs from that copy.
  const asked = versionedRequests.length;
  await dockerfile(`ADD --checksum=sha256:${createHash('sha256').update('version 2\n').digest('hex')} ${httpUrl}/versioned.txt /v.txt`);
  await build();
  expect(versionedRequests.length).toBe(asked);
  expect(await sh('cat /copy.txt', 'versioned:1')).toBe('version 2');
});

it('refuses a download whose --checksum does not match, and a missing URL, naming both', async () => {
  const wrong = `sha256:${'0'.repeat(64)}`;
  await writeFile(path.join(context, 'Dockerfile'), `FROM base:latest\nADD --checksum=${wrong} ${httpUrl}/files/hello.txt /x\n`);
  const mismatch = await ribo(['build', '-t', 'bad:latest', context], { root });
  expect(mismatch.exitCode).not.toBe(0);
  expect(mismatch.stderr).toContain(`the downloaded content has digest ${BODY_DIGEST}`);
  await writeFile(path.join(context, 'Dockerfile'), `FROM base:latest\nADD ${httpUrl}/nothing /x\n`);
  const missing = await ribo(['build', '-t', 'bad:latest', context], { root });
  expect(missing.exitCode).not.toBe(0);
  expect(missing.stderr).toMatch(/Dockerfile:2.*answered 404/s);
  // No image is tagged bad (a repository column; an image id may well hold the letters "bad").
  const repositories = (await riboOk(['images', '--format', '{{.Repository}}'], { root })).stdout.split('\n');
  expect(repositories).toContain('base');
  expect(repositories).not.toContain('bad');
});

it('downloads from https with a private CA given in NODE_EXTRA_CA_CERTS, and says how when it is not', async () => {
  await writeFile(path.join(context, 'Dockerfile'), `FROM base:latest\nADD ${httpsUrl}/files/hello.txt /secure.txt\n`);
  const untrusted = await ribo(['build', '-t', 'add-https:latest', context], { root });
  expect(untrusted.exitCode).not.toBe(0);
  expect(untrusted.stderr).toContain('NODE_EXTRA_CA_CERTS');
  await riboOk(['build', '-t', 'add-https:latest', context], { root, env: { NODE_EXTRA_CA_CERTS: path.join(certDir, 'cert.pem') } });
  expect(await sh('cat /secure.txt', 'add-https:latest')).toBe('served over http');
});

it('refuses git sources with a clear error', async () => {
  await writeFile(path.join(context, 'Dockerfile'), 'FROM base:latest\nADD https://example.com/repo.git /src\n');
  const result = await ribo(['build', context], { root });
  expect(result.exitCode).not.toBe(0);
  expect(result.stderr).toMatch(/Dockerfile:2.*git repository.*not supported/s);
});
