/**
 * RUN --mount (cache, bind, tmpfs, secret) and RUN --network, as a user sees
 * them: what the step could read and write, what the image keeps (nothing of
 * the mounts), what the cache reuses, and that a secret is nowhere in the store.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blobPath, listLayer, makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';

const SECRET = 'hunter2-very-secret-7f3a9c';
const ENV_SECRET = 'env-secret-value-51d0e2';

const BASE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
`;

const MOUNTS = `FROM base:latest AS other
RUN echo "from the other stage" > /s.txt

FROM base:latest
RUN --mount=type=cache,target=/var/cache/app,id=persist sh -c 'echo run >> /var/cache/app/log; cat /var/cache/app/log > /cache-seen.txt'
RUN --mount=type=cache,target=/c2,uid=1000,gid=1000,mode=0700 stat -c '%u:%g %a' /c2 > /cache-perms.txt
RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/x.txt > /bound.txt
RUN --mount=type=bind,source=data,target=/mnt/data sh -c 'ls -a /mnt/data > /bound-ls.txt; (touch /mnt/data/new 2>/dev/null && echo writable || echo readonly) > /bound-ro.txt'
RUN --mount=type=bind,source=data,target=/mnt/data,rw sh -c 'touch /mnt/data/new && ls /mnt/data > /bound-rw.txt'
RUN --mount=type=bind,from=other,source=/s.txt,target=/mnt/s.txt cat /mnt/s.txt > /bound-stage.txt
RUN --mount=type=tmpfs,target=/scratch,size=8m sh -c 'echo x > /scratch/f; grep " /scratch " /proc/mounts | cut -d" " -f3 > /tmpfs.txt'
RUN --mount=type=secret,id=tok sh -c 'stat -c "%a %u" /run/secrets/tok > /secret-perms.txt; wc -c < /run/secrets/tok > /secret-len.txt'
RUN --mount=type=secret,id=tok,target=/etc/tok.conf,mode=0440,uid=1000 --mount=type=secret,id=envtok,env=TOKEN sh -c 'stat -c "%a %u" /etc/tok.conf > /secret-target.txt; echo -n "$TOKEN" | md5sum | cut -d" " -f1 > /secret-env.txt'
RUN --network=none sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " > /net-none.txt'
RUN sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort > /net-default.txt'
`;

let root: string;
let context: string;
let secretFile: string;

const secretArgs = () => ['--secret', `id=tok,src=${secretFile}`, '--secret', 'id=envtok,env=MY_TOKEN'];
const secretEnv = { MY_TOKEN: ENV_SECRET };

async function build(extra: string[] = []): Promise<string> {
  return (await riboOk(['build', '--progress=plain', '-t', 'mounts:latest', ...secretArgs(), ...extra, context], { root, env: secretEnv })).stderr;
}

async function cat(file: string, image = 'mounts:latest'): Promise<string> {
  return (await riboOk(['run', '--rm', image, 'cat', file], { root })).stdout.trim();
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({
    'base.Dockerfile': BASE,
    Dockerfile: MOUNTS,
    'data/x.txt': 'x1\n',
    'data/ignored.txt': 'ignored\n',
    'other.txt': 'o1\n',
    '.dockerignore': 'data/ignored.txt\n',
    'secret.txt': SECRET,
  }, 'hello');
  secretFile = path.join(context, 'secret.txt');
  await riboOk(['build', '-t', 'base:latest', '-f', `${context}/base.Dockerfile`, context], { root });
  await build();
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

it('keeps a cache mount between builds, and out of the image', async () => {
  expect(await cat('/cache-seen.txt')).toBe('run');
  await build(['--no-cache']);
  expect(await cat('/cache-seen.txt')).toBe('run\nrun');
  expect(await cat('/cache-perms.txt')).toBe('1000:1000 700');
  const gone = await ribo(['run', '--rm', 'mounts:latest', 'sh', '-c', 'ls -d /var/cache/app /c2 /mnt /scratch /run/secrets /etc/tok.conf 2>&1'], { root });
  expect(gone.stdout).not.toMatch(/^\/(var|c2|mnt|scratch|run|etc\/tok)/m);
  const image = await readImage(root, 'mounts:latest');
  for (const layer of image.manifest.layers) {
    const paths = (await listLayer(blobPath(root, layer.digest))).map((e) => e.path);
    expect(paths.filter((p) => /^(var\/cache\/app\/|c2\/|mnt\/|scratch\/|run\/secrets\/|etc\/tok\.conf)/.test(p))).toEqual([]);
  }
});

it('binds context files read-only, without .dockerignore\'d ones, and discards rw writes', async () => {
  expect(await cat('/bound.txt')).toBe('x1');
  expect((await cat('/bound-ls.txt')).split('\n')).toEqual(['.', '..', 'x.txt']);
  expect(await cat('/bound-ro.txt')).toBe('readonly');
  expect((await cat('/bound-rw.txt')).split('\n')).toEqual(['new', 'x.txt']);
  expect(await readdir(path.join(context, 'data'))).not.toContain('new');
  expect(await cat('/bound-stage.txt')).toBe('from the other stage');
});

it('reruns a RUN when a file its bind mount exposes changes, and only then', async () => {
  await writeFile(path.join(context, 'other.txt'), 'o2\n');
  await writeFile(path.join(context, 'data/ignored.txt'), 'ignored2\n');
  const unrelated = await build();
  expect(unrelated).toMatch(/CACHED RUN --mount=type=bind,source=data,target=\/mnt\/data cat/);
  await writeFile(path.join(context, 'data/x.txt'), 'x2\n');
  const changed = await build();
  expect(changed).not.toMatch(/CACHED RUN --mount=type=bind,source=data,target=\/mnt\/data cat/);
  expect(await cat('/bound.txt')).toBe('x2');
});

it('mounts a tmpfs', async () => {
  expect(await cat('/tmpfs.txt')).toBe('tmpfs');
});

it('gives secrets as files and env, and keeps them out of every layer, cache entry and log', async () => {
  expect(await cat('/secret-perms.txt')).toBe('400 0');
  expect(await cat('/secret-len.txt')).toBe(String(SECRET.length));
  expect(await cat('/secret-target.txt')).toBe('440 1000');
  expect(await cat('/secret-env.txt')).toBe(createHash('md5').update(ENV_SECRET).digest('hex'));
  // Plain files anywhere in the store (cache index, unpacked layers, logs, configs)...
  const plain = await execa('grep', ['-rlaF', '-e', SECRET, '-e', ENV_SECRET, root], { reject: false });
  expect(plain.stdout).toBe('');
  // ...and the content of every compressed blob.
  for (const name of await readdir(path.join(root, 'blobs', 'sha256'))) {
    const file = path.join(root, 'blobs', 'sha256', name);
    const head = (await readFile(file)).subarray(0, 2);
    if (head[0] !== 0x1f || head[1] !== 0x8b) continue;
    const found = await execa('sh', ['-c', `gzip -dc '${file}' | grep -caF -e '${SECRET}' -e '${ENV_SECRET}'`], { reject: false });
    expect(found.stdout.trim()).toBe('0');
  }
});

it('fails clearly when a required secret is missing (ssh mounts: build-ssh.test.ts)', async () => {
  const bad = await makeContext({ Dockerfile: 'FROM base:latest\nRUN --mount=type=secret,id=missing,required cat /run/secrets/missing\n' });
  try {
    const missing = await ribo(['build', bad], { root });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toMatch(/Dockerfile:2.*secret "missing" is required.*--secret id=missing/s);
  } finally {
    await execa('rm', ['-rf', bad]);
  }
});

it('runs RUN --network=none with only lo, and takes --network from the command line', async () => {
  expect(await cat('/net-none.txt')).toBe('lo');
  expect((await cat('/net-default.txt')).split('\n').length).toBeGreaterThan(1);
  const none = await makeContext({ Dockerfile: 'FROM base:latest\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " > /n.txt\nRUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " > /h.txt\n' });
  try {
    await riboOk(['build', '--network', 'none', '-t', 'net:latest', none], { root });
    expect(await cat('/n.txt', 'net:latest')).toBe('lo');
    expect((await cat('/h.txt', 'net:latest')).split('\n').length).toBeGreaterThan(1);
  } finally {
    await execa('rm', ['-rf', none]);
  }
});
