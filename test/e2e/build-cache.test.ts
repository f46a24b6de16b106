/**
 * The build cache, as a user sees it: which steps say CACHED, and what the
 * image holds afterwards.
 */
import { execa } from 'execa';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeContext, makeStore, removeStore, riboOk } from './harness.js';

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG FLAVOR=plain
COPY app/ /app/
RUN echo "flavor $FLAVOR" > /flavor
COPY extra.txt /extra.txt
RUN cat /app/a.txt /extra.txt > /combined
`;

let root: string;
let context: string;

async function build(...extra: string[]): Promise<{ cached: string[]; rebuilt: string[]; output: string }> {
  const { stderr } = await riboOk(['build', '--explain', '-t', 'cached:latest', ...extra, context], { root });
  const steps = stderr.split('\n').filter((l) => /^#\d+ \[stage-0 \d+\/\d+\] /.test(l));
  const cached = steps.filter((l) => l.includes('] CACHED ')).map((l) => l.replace(/^.*CACHED /, ''));
  const rebuilt = steps.filter((l) => !l.includes('] CACHED ') && /\] (RUN|COPY)/.test(l)).map((l) => l.replace(/^#\d+ \[[^\]]*\] /, ''));
  return { cached, rebuilt, output: stderr };
}

async function run(...cmd: string[]): Promise<string> {
  return (await riboOk(['run', '--rm', 'cached:latest', ...cmd], { root })).stdout;
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({ Dockerfile: DOCKERFILE, 'app/a.txt': 'a1\n', 'app/b.txt': 'b1\n', 'extra.txt': 'extra1\n', '.dockerignore': 'app/ignored.txt\n', 'app/ignored.txt': 'i1\n' }, 'hello');
  const first = await build();
  expect(first.cached).toEqual([]);
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

it('reuses every step when nothing changed', async () => {
  const again = await build();
  expect(again.rebuilt).toEqual([]);
  expect(again.cached).toHaveLength(6);
});

it('is a full hit when only an mtime or an ignored file changed', async () => {
  await utimes(path.join(context, 'app/a.txt'), new Date(), new Date('2001-01-01'));
  await writeFile(path.join(context, 'app/ignored.txt'), 'i2\n');
  const again = await build();
  expect(again.rebuilt).toEqual([]);
  expect(await run('ls', '/app')).not.toContain('ignored.txt');
});

it('rebuilds a changed COPY and the steps after it, and says why', async () => {
  await writeFile(path.join(context, 'extra.txt'), 'extra2\n');
  const again = await build();
  expect(again.cached).toEqual(['COPY busybox /bin/busybox', 'RUN ["/bin/busybox", "--install", "-s", "/bin"]', 'COPY app/ /app/', 'RUN echo "flavor $FLAVOR" > /flavor']);
  expect(again.rebuilt).toHaveLength(2);
  expect(again.rebuilt[0]).toContain('changed: source extra.txt');
  expect(await run('cat', '/combined')).toBe('a1\nextra2');
});

it('rebuilds only the steps that use a changed build arg', async () => {
  const again = await build('--build-arg', 'FLAVOR=spicy');
  expect(again.cached).toEqual(['COPY busybox /bin/busybox', 'RUN ["/bin/busybox", "--install", "-s", "/bin"]', 'COPY app/ /app/']);
  expect(again.rebuilt[0]).toContain('build arg FLAVOR');
  expect(await run('cat', '/flavor')).toBe('flavor spicy');
});

it('runs every step with --no-cache', async () => {
  const again = await build('--no-cache', '--build-arg', 'FLAVOR=spicy');
  expect(again.cached).toEqual([]);
  expect(again.rebuilt).toHaveLength(6);
});

it('gives the same image digest for the same context on two empty stores', async () => {
  const other = await makeStore();
  const third = await makeStore();
  try {
    const a = (await riboOk(['build', '-t', 'r', context], { root: other })).stdout.trim();
    const b = (await riboOk(['build', '-t', 'r', context], { root: third })).stdout.trim();
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b).toBe(a);
    // The image id is the config digest; the manifest (with the compressed layers' digests) is the same too.
    const digest = async (store: string) => (await riboOk(['inspect', '--format', '{{.Digest}}', 'r'], { root: store })).stdout.trim();
    // Compared as JSON first, so a failure shows which layer (or field) differs.
    const manifest = async (store: string) => JSON.parse(await readFile(path.join(store, 'blobs/sha256', (await digest(store)).slice('sha256:'.length)), 'utf8')) as unknown;
    expect(await manifest(third)).toEqual(await manifest(other));
    expect(await digest(third)).toBe(await digest(other));
  } finally {
    await removeStore(other);
    await removeStore(third);
  }
});

it('gives a second, empty store full cache hits through --cache-to and --cache-from', async () => {
  const cacheDir = await makeStore();
  const second = await makeStore();
  try {
    const first = await riboOk(['build', '--cache-to', `type=local,dest=${cacheDir}/cache`, '-t', 'shared', context], { root });
    const again = await riboOk(['build', '--cache-from', `type=local,src=${cacheDir}/cache`, '-t', 'shared', context], { root: second });
    const steps = again.stderr.split('\n').filter((l) => /\] (CACHED )?(RUN|COPY)/.test(l));
    expect(steps).toHaveLength(6);
    expect(steps.every((l) => l.includes('] CACHED '))).toBe(true);
    expect(again.stdout).toBe(first.stdout);
    expect((await riboOk(['run', '--rm', 'shared', 'cat', '/combined'], { root: second })).stdout).toContain('a1');
  } finally {
    await removeStore(cacheDir);
    await removeStore(second);
  }
});
