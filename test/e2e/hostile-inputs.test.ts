/**
 * Inputs that used to hang ribo or end in an internal error (exit 70): servers
 * that never answer, archives with impossible owners, symlinks out of a build
 * context, redirects to file://, configs too big or too deep. Each must end
 * in a clear error naming the input, leave nothing in the store, and leave the
 * store usable by the next command.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
let exchange: string;

async function store(): Promise<string> {
  const dir = await makeStore();
  cleanups.push(() => removeStore(dir));
  return dir;
}

async function context(files: Record<string, string>): Promise<string> {
  const dir = await makeContext(files);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function taggedImages(root: string): Promise<unknown[]> {
  return JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8').catch(() => '{"manifests":[]}')).manifests;
}

/** A TCP server on a port of its own that accepts connections and does `onConnection` with them (nothing by default). */
async function startSilentServer(onConnection: (socket: net.Socket) => void = () => undefined): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => count };
}

/** Answers the first request of each connection with headers and the start of a body, then says nothing more. */
const headersThenStall = (socket: net.Socket) => {
  socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"sch'));
};

const SHORT_LIMITS = { RIBO_CONNECT_TIMEOUT: '2', RIBO_IDLE_TIMEOUT: '1', RIBO_NETWORK_ATTEMPTS: '2' };

beforeAll(async () => {
  exchange = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-inputs-'));
  await chmod(exchange, 0o1777);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await rm(exchange, { recursive: true, force: true });
});

describe('servers that never answer', () => {
  it('a registry that accepts and never answers is given up after the idle limit, and the store stays usable', async () => {
    const server = await startSilentServer();
    const root = await store();
    const ref = `127.0.0.1:${server.port}/silent/app:1`;
    const result = await ribo(['pull', ref], { root, env: SHORT_LIMITS });
    expect(result.exitCode).toBe(1);
    // A loopback registry is asked over plain http first (docs/registry.md); one that says nothing is not asked again over https.
    expect(result.stderr).toContain(`GET http://127.0.0.1:${server.port}/v2/`);
    expect(result.stderr).toContain('the server sent nothing for 1 s (RIBO_IDLE_TIMEOUT)');
    expect(result.stderr).toContain('Tried 2 times');
    expect(server.connections()).toBe(2);
    expect(await taggedImages(root)).toEqual([]);
    await riboOk(['images'], { root });
  });

  it('a registry that sends headers and then stalls is given up too', async () => {
    const server = await startSilentServer(headersThenStall);
    const root = await store();
    const result = await ribo(['pull', `127.0.0.1:${server.port}/stall/app:1`], { root, env: SHORT_LIMITS });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${server.port}`);
    expect(result.stderr).toContain('RIBO_IDLE_TIMEOUT');
    expect(await taggedImages(root)).toEqual([]);
    await riboOk(['images'], { root });
  });

  it('an ADD URL whose server never answers ends the build with the URL, the line and the limit; the store is free', async () => {
    for (const behaviour of [undefined, headersThenStall]) {
      const server = await startSilentServer(behaviour);
      const root = await store();
      const url = `http://127.0.0.1:${server.port}/file.txt`;
      const ctx = await context({ Dockerfile: `FROM scratch\nADD ${url} /file.txt\n` });
      const result = await ribo(['build', '-q', '-t', 'never:1', ctx], { root, env: SHORT_LIMITS });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(url);
      expect(result.stderr).toMatch(/Dockerfile:2/);
      expect(result.stderr).toContain('the server sent nothing for 1 s (RIBO_IDLE_TIMEOUT)');
      expect(await taggedImages(root)).toEqual([]);
      // Nothing holds the store: a command that needs it exclusively runs at once.
      await riboOk(['prune', '--all'], { root });
      await riboOk(['images'], { root });
    }
  });

  it('a bad limit in the environment is a usage error naming the variable', async () => {
    const root = await store();
    const result = await ribo(['pull', '127.0.0.1:1/x:1'], { root, env: { RIBO_IDLE_TIMEOUT: 'soon' } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('RIBO_IDLE_TIMEOUT=soon');
  });
});

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A plain layer tar holding `files` (name → content) and, when asked, busybox. */
async function layerTar(files: Record<string, string>): Promise<Buffer> {
  const stage = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-inputs-layer-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(stage, name)), { recursive: true });
      await writeFile(path.join(stage, name), content === 'BUSYBOX' ? await readFile('/bin/busybox') : content, { mode: 0o755 });
    }
    const { stdout } = await execa('tar', ['-C', stage, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-cf', '-', '.'], { encoding: 'buffer' });
    return Buffer.from(stdout);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * An OCI layout of one image named `ref` with plain tar `layers` and the
 * config `runConfigJSON` (the text of its "config" member, written as is so
 * it can be deeper than JSON.stringify goes; `extraJSON` adds members).
 */
async function writeLayout(ref: string, layers: Buffer[], runConfigJSON: string, extraJSON = ''): Promise<string> {
  const dir = await mkdtemp(path.join(exchange, 'layout-'));
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (data: Buffer | string) => {
    const digest = sha256(data);
    await writeFile(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layerDescriptors = [];
  for (const layer of layers) layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await put(layer)) });
  const diffIDs = JSON.stringify(layerDescriptors.map((l) => l.digest));
  const config = `{"architecture":"amd64","os":"linux","config":${runConfigJSON},"rootfs":{"type":"layers","diff_ids":${diffIDs}}${extraJSON}}`;
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await put(config)) }, layers: layerDescriptors });
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...(await put(manifest)), annotations: { 'org.opencontainers.image.ref.name': ref } }] };
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
  await execa('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

async function unpackedLayers(root: string): Promise<string[]> {
  return readdir(path.join(root, 'layers')).catch(() => []);
}

/** Processes of the OCI runtimes working for the store `root`, by command line. */
async function runtimeProcesses(root: string): Promise<string[]> {
  const { stdout } = await execa('ps', ['-eo', 'args'], { reject: false });
  return stdout.split('\n').filter((line) => /^(\S*\/)?(crun|runc) /.test(line) && line.includes(root));
}

/** Uploads the image of an OCI layout to a registry by hand (skopeo refuses configs over 4 MiB). */
async function pushLayout(host: string, layout: string, repository: string, tag: string): Promise<void> {
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
  const manifestBytes = await readFile(path.join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)));
  const manifest = JSON.parse(manifestBytes.toString('utf8'));
  for (const blob of [manifest.config, ...manifest.layers]) {
    const started = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(started.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', blob.digest);
    const body = await readFile(path.join(layout, 'blobs/sha256', blob.digest.slice(7)));
    expect((await fetch(location, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } })).status).toBe(201);
  }
  expect((await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body: manifestBytes, headers: { 'content-type': manifest.mediaType } })).status).toBe(201);
}

describe('image configs beyond the limits', () => {
  const millionEnv = `{"Env":[${Array(1_000_000).fill('"A=1"').join(',')}],"Cmd":["/bin/busybox","true"]}`;

  it('a config with a million Env entries is refused by load and by run oci:, naming the image and the limit; nothing is stored', async () => {
    const layout = await writeLayout('env-bomb:1', [await layerTar({ 'bin/busybox': 'BUSYBOX' })], millionEnv);
    const root = await store();
    const loaded = await ribo(['load', '-i', layout], { root });
    expect(loaded.exitCode).toBe(1);
    expect(loaded.stderr).toContain('env-bomb:1');
    expect(loaded.stderr).toContain('has 1000000 Env entries; ribo accepts at most 10000 entries');
    expect(await taggedImages(root)).toEqual([]);
    expect(await unpackedLayers(root)).toEqual([]);
    expect(await readdir(path.join(root, 'blobs/sha256')).catch(() => [])).toEqual([]);

    const run = await ribo(['run', '--rm', `oci:${layout}:env-bomb:1`], { root });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('has 1000000 Env entries');
    expect(await runtimeProcesses(root)).toEqual([]);
    expect(await unpackedLayers(root)).toEqual([]);
    await riboOk(['images'], { root });
  });

  it('a pull of such an image from a registry is refused, untagged, nothing unpacked', async () => {
    const { startRegistry } = await import('../setup/registry.js');
    const registry = await startRegistry();
    cleanups.push(() => registry.stop());
    const layout = await writeLayout('env-bomb', [await layerTar({ 'bin/busybox': 'BUSYBOX' })], millionEnv);
    await pushLayout(registry.host, layout, 'e2e/env-bomb', '1');
    const root = await store();
    const pulled = await ribo(['pull', '-q', `${registry.host}/e2e/env-bomb:1`], { root });
    expect(pulled.exitCode).toBe(1);
    expect(pulled.stderr).toContain(`${registry.host}/e2e/env-bomb:1: the image config has 1000000 Env entries`);
    expect(await taggedImages(root)).toEqual([]);
    expect(await unpackedLayers(root)).toEqual([]);
  });

  it('labels: too many, or one too long, are refused as well', async () => {
    const root = await store();
    const labels = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`l${i}`, 'v']));
    const many = await writeLayout('labels:1', [await layerTar({ f: 'x' })], JSON.stringify({ Labels: labels }));
    const manyResult = await ribo(['load', '-i', many], { root });
    expect(manyResult.exitCode).toBe(1);
    expect(manyResult.stderr).toContain('labels:1');
    expect(manyResult.stderr).toContain('has 10001 Labels');
    const long = await writeLayout('label:1', [await layerTar({ f: 'x' })], JSON.stringify({ Labels: { big: 'x'.repeat(2 * 1024 * 1024) } }));
    const longResult = await ribo(['load', '-i', long], { root });
    expect(longResult.exitCode).toBe(1);
    expect(longResult.stderr).toContain('has a label "big" of 2097155 bytes');
    expect(await taggedImages(root)).toEqual([]);
  });

  it('a build whose ENV goes beyond the limit stops at that line', async () => {
    const root = await store();
    const pairs = Array.from({ length: 10_001 }, (_, i) => `V${i}=x`).join(' ');
    const ctx = await context({ Dockerfile: `FROM scratch\nENV ${pairs}\n` });
    const result = await ribo(['build', '-q', '-t', 'env:1', ctx], { root });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/Dockerfile:2.*ENV: the image config has 1000[12] Env entries; ribo accepts at most 10000/);
    expect(await taggedImages(root)).toEqual([]);
  });

  it('a config nested 100 000 deep is refused by load, and inspect of one already in the store says why instead of overflowing', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const layout = await writeLayout('deep:1', [await layerTar({ f: 'x' })], `{"Labels":{"a":"b"}}`, `,"unknown":${deep}`);
    const root = await store();
    const loaded = await ribo(['load', '-i', layout], { root });
    expect(loaded.exitCode).toBe(1);
    expect(loaded.stderr).toContain('deep:1');
    expect(loaded.stderr).toContain('nests arrays or objects more than 100 levels deep');
    expect(await taggedImages(root)).toEqual([]);

    // Put there by an older ribo: the layout's blobs and tag copied into the store by hand.
    await riboOk(['images'], { root });
    const stat = await import('node:fs/promises').then((fs) => fs.stat(root));
    await mkdir(path.join(root, 'blobs/sha256'), { recursive: true });
    await execa('cp', ['-r', `${layout}/blobs/sha256/.`, path.join(root, 'blobs/sha256')]);
    await writeFile(path.join(root, 'index.json'), await readFile(path.join(layout, 'index.json')));
    await execa('chown', ['-R', `${stat.uid}:${stat.gid}`, path.join(root, 'blobs'), path.join(root, 'index.json')]);
    const inspected = await ribo(['inspect', 'deep:1'], { root });
    expect(inspected.exitCode).toBe(1);
    expect(inspected.stderr).toContain('nests arrays or objects more than 100 levels deep');
    await riboOk(['rmi', 'deep:1'], { root });
  });
});

/** The process table as pid, parent pid and command line. */
async function processTable(): Promise<Array<{ pid: number; ppid: number; args: string }>> {
  const { stdout } = await execa('ps', ['-eo', 'pid=,ppid=,args='], { reject: false });
  return stdout.split('\n').map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line)).filter((m) => m !== null).map((m) => ({ pid: Number(m![1]), ppid: Number(m![2]), args: m![3]! }));
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, seconds = 60): Promise<T> {
  for (let i = 0; i < seconds * 5; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a killed foreground ribo takes its container with it', () => {
  let root: string;
  beforeAll(async () => {
    root = await store();
    const layout = await writeLayout('sleeper:1', [await layerTar({ 'bin/busybox': 'BUSYBOX' })], '{"Cmd":["/bin/busybox","true"]}');
    await riboOk(['load', '-i', layout], { root });
  });

  const cases: Array<[string, string[], NodeJS.Signals]> = [
    ['SIGKILL, run through Node', ['--name', 'limits-kill-node'], 'SIGKILL'],
    ['SIGTERM, run through Node (the container ignores TERM as pid 1)', ['--name', 'limits-term-node'], 'SIGTERM'],
    ['SIGKILL, a planned run (run --rm, shell only)', ['--rm'], 'SIGKILL'],
    ['SIGTERM, a planned run', ['--rm'], 'SIGTERM'],
  ];
  it.each(cases)('%s', async (_title, flags, signal) => {
    const { spawnRibo } = await import('./harness.js');
    // A first --rm run writes the plan the next one uses.
    if (flags[0] === '--rm') await riboOk(['run', '--rm', 'sleeper:1'], { root });
    const seconds = String(3000 + Math.floor(Math.random() * 6000));
    const { child } = await spawnRibo(['run', ...flags, 'sleeper:1', '/bin/busybox', 'sleep', seconds], { root });
    try {
      const sleeper = (p: { args: string }) => p.args === `/bin/busybox sleep ${seconds}`;
      await waitFor('the container', async () => (await processTable()).find(sleeper));
      const riboProcess = (await processTable()).find((p) => p.ppid === child.pid);
      expect(riboProcess?.args).toMatch(flags[0] === '--rm' ? /run-plan\.sh/ : /bin\/ribo/);
      process.kill(riboProcess!.pid, signal);
      await waitFor('the container and its runtime to end', async () => {
        const table = await processTable();
        return !table.some(sleeper) && !table.some((p) => /(crun|runc) /.test(p.args) && p.args.includes(root));
      });
      await child;
      const listed = (await riboOk(['ps', '-a'], { root })).stdout;
      expect(listed).not.toMatch(/ Up /);
      if (flags[0] === '--name') expect(listed).toMatch(new RegExp(`Exited \\(\\d+\\).*${flags[1]}`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('SIGKILL of `ribo build` ends its RUN step\'s container and runtime', async () => {
    const { spawnRibo } = await import('./harness.js');
    const seconds = String(3000 + Math.floor(Math.random() * 6000));
    const ctx = await context({ Dockerfile: `FROM sleeper:1\nRUN ["/bin/busybox", "sleep", "${seconds}"]\n` });
    const { child } = await spawnRibo(['build', '-q', '-t', 'never-built:1', ctx], { root });
    try {
      const sleeper = (p: { args: string }) => p.args === `/bin/busybox sleep ${seconds}`;
      await waitFor('the RUN step', async () => (await processTable()).find(sleeper));
      const riboProcess = (await processTable()).find((p) => p.ppid === child.pid);
      process.kill(riboProcess!.pid, 'SIGKILL');
      await waitFor('the step and its runtime to end', async () => {
        const table = await processTable();
        return !table.some(sleeper) && !table.some((p) => /(crun|runc) /.test(p.args) && p.args.includes(root));
      });
      await child;
      expect((await riboOk(['images'], { root })).stdout).not.toContain('never-built');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** One ustar header block (checksum filled in). */
function tarHeader(name: string, size: number, type: '0' | 'x', uid: number, gid: number): Buffer {
  const block = Buffer.alloc(512);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';
  block.write(name, 0, 100, 'utf8');
  block.write(octal(0o644, 8), 100, 'ascii');
  block.write(octal(uid, 8), 108, 'ascii');
  block.write(octal(gid, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(0, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write(type, 156, 'ascii');
  block.write('ustar\0' + '00', 257, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return block;
}

const padded = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);

/** A tar of one file "f" owned by `uid`:`gid`, the uid given in a PAX header as `paxUid` when set. */
function ownedTar(uid: number, gid: number, paxUid?: string): Buffer {
  const content = Buffer.from('hi\n');
  const parts: Buffer[] = [];
  if (paxUid !== undefined) {
    const body = ` uid=${paxUid}\n`;
    let length = body.length + 1;
    while (`${length}${body}`.length !== length) length = `${length}${body}`.length;
    const record = Buffer.from(`${length}${body}`);
    parts.push(tarHeader('PaxHeaders/f', record.length, 'x', 0, 0), padded(record));
  }
  parts.push(tarHeader('f', content.length, '0', uid, gid), padded(content), Buffer.alloc(1024));
  return Buffer.concat(parts);
}

describe('layer owners ribo cannot give', () => {
  const archives: Array<[string, Buffer, RegExp]> = [
    ['a uid beyond the mapped range', ownedTar(100_000, 100_000), /Layer entry "f" is owned by uid 100000 and gid 100000, but only uids 0 to \d+ .* are mapped here/],
    ['a PAX uid of 1.5', ownedTar(0, 0, '1.5'), /the PAX uid "1\.5" of entry "f" is not a user id/],
  ];

  it.each(archives)('%s: import, load and run end in a clear error and store nothing', async (_title, archive, message) => {
    const root = await store();
    const file = path.join(exchange, `owned-${createHash('sha256').update(archive).digest('hex').slice(0, 8)}.tar`);
    await writeFile(file, archive, { mode: 0o644 });
    const imported = await ribo(['import', file, 'owned:1'], { root });
    expect(imported.exitCode).toBe(1);
    expect(imported.stderr).toContain(file);
    expect(imported.stderr).toMatch(message);
    expect(await taggedImages(root)).toEqual([]);
    expect(await unpackedLayers(root)).toEqual([]);

    // Loaded, the image's layer is only checked against its diffID; it is unpacked (and refused) by the first run.
    const layout = await writeLayout('owned:1', [archive], '{"Cmd":["/f"]}');
    const loaded = await ribo(['load', '-i', layout], { root });
    expect(loaded.exitCode).not.toBe(70);
    if (loaded.exitCode === 0) {
      const run = await ribo(['run', '--rm', 'owned:1'], { root });
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(await runtimeProcesses(root)).toEqual([]);
    } else expect(loaded.stderr).toMatch(message);
    expect(await unpackedLayers(root)).toEqual([]);
    const runOci = await ribo(['run', '--rm', `oci:${layout}:owned:1`], { root });
    expect(runOci.exitCode).toBe(1);
    expect(runOci.stderr).toMatch(message);
    expect(await unpackedLayers(root)).toEqual([]);
    await riboOk(['images'], { root });
  });
});

describe('symlinks in a build context and in an image', () => {
  it('COPY of a context symlink pointing out of the context follows it inside the context, as BuildKit; a missing target is a clear error', async () => {
    const root = await store();
    const { symlink } = await import('node:fs/promises');
    const ctx = await context({ 'inside.txt': 'from the context\n', 'dir/in.txt': 'in\n' });
    await writeFile(path.join(ctx, 'busybox'), await readFile('/bin/busybox'), { mode: 0o755 });
    await symlink('/etc/passwd', path.join(ctx, 'out'));
    await symlink('/inside.txt', path.join(ctx, 'abs-inside'));
    await symlink('../../../../etc/hostname', path.join(ctx, 'dir/up'));
    await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY out /out\n');
    const refused = await ribo(['build', '-q', '-t', 'links:1', ctx], { root });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('Dockerfile:3: COPY source "out" is a symlink to /etc/passwd, which resolves inside the build context');
    expect(await taggedImages(root)).toEqual([]);
    const refusedInDir = await ribo(['build', '-q', '-t', 'links:1', '-f', '-', ctx], { root, input: 'FROM scratch\nCOPY dir/up /up\n' });
    expect(refusedInDir.exitCode).toBe(1);
    expect(refusedInDir.stderr).toContain('COPY source "dir/up" is a symlink to ../../../../etc/hostname');

    // A named symlink is followed inside the context; one inside a copied directory stays a symlink.
    await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY abs-inside /copied.txt\nCOPY dir /dir\n');
    await riboOk(['build', '-q', '-t', 'links:1', ctx], { root });
    expect((await riboOk(['run', '--rm', 'links:1', '/bin/busybox', 'cat', '/copied.txt'], { root })).stdout).toBe('from the context');
    expect((await riboOk(['run', '--rm', 'links:1', '/bin/busybox', 'readlink', '/dir/up'], { root })).stdout).toBe('../../../../etc/hostname');
  });

  it('WORKDIR through an absolute symlink to a missing target makes the target in the image; through a file it is a clear error', async () => {
    const root = await store();
    const ctx = await context({});
    await writeFile(path.join(ctx, 'busybox'), await readFile('/bin/busybox'), { mode: 0o755 });
    const links = 'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox ln -s /missing/target /link && /bin/busybox ln -s /bin/busybox/x /through-file"]\n';
    await writeFile(path.join(ctx, 'Dockerfile'), `FROM scratch\nCOPY busybox /bin/busybox\n${links}WORKDIR /link/sub\nRUN ["/bin/busybox", "pwd"]\n`);
    await riboOk(['build', '-q', '-t', 'wd:1', ctx], { root });
    expect((await riboOk(['run', '--rm', 'wd:1', '/bin/busybox', 'sh', '-c', '/bin/busybox pwd; /bin/busybox test -d /missing/target/sub && echo made'], { root })).stdout).toBe('/missing/target/sub\nmade');

    await writeFile(path.join(ctx, 'Dockerfile'), `FROM scratch\nCOPY busybox /bin/busybox\n${links}WORKDIR /through-file/y\n`);
    const refused = await ribo(['build', '-q', '-t', 'wd:2', ctx], { root });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('Dockerfile:4: WORKDIR /through-file/y: /through-file (symlinks lead it to /bin/busybox/x) cannot be made a directory');
    expect(JSON.stringify(await taggedImages(root))).not.toContain('wd:2');
  });
});

describe('redirects out of http(s)', () => {
  it('a registry redirect to file:// is refused with the URL; so is an ADD redirect', async () => {
    const http = await import('node:http');
    const server = http.createServer((request, response) => {
      if (request.url === '/v2/') response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else response.writeHead(302, { location: 'file:///etc/passwd' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as net.AddressInfo).port;
    const root = await store();
    const pulled = await ribo(['pull', `127.0.0.1:${port}/redirect/app:1`], { root });
    expect(pulled.exitCode).toBe(1);
    expect(pulled.stderr).toContain(`to file:///etc/passwd, which is not an http(s) URL`);
    expect(pulled.stderr).toContain(`http://127.0.0.1:${port}/v2/redirect/app/manifests/1`);
    expect(await taggedImages(root)).toEqual([]);

    const ctx = await context({ Dockerfile: `FROM scratch\nADD http://127.0.0.1:${port}/file /file\n` });
    const built = await ribo(['build', '-q', '-t', 'redirect:1', ctx], { root });
    expect(built.exitCode).toBe(1);
    expect(built.stderr).toContain('Dockerfile:2');
    expect(built.stderr).toContain('the server redirected to file:///etc/passwd, which is not an http(s) URL');
    expect(await taggedImages(root)).toEqual([]);
  });
});
