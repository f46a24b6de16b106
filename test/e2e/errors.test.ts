/** Bad input gets a clear one-paragraph error, a non-zero exit, and leaves the store intact. */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';

let root: string;
const contexts: string[] = [];

async function context(files: Record<string, string>, fixture?: string): Promise<string> {
  const dir = await makeContext(files, fixture);
  contexts.push(dir);
  return dir;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every blob in the store is complete: its content matches its name. */
async function expectStoreConsistent(): Promise<void> {
  const dir = path.join(root, 'blobs', 'sha256');
  for (const name of await readdir(dir)) expect(await sha256(path.join(dir, name))).toBe(name);
  const ingest = await readdir(path.join(root, 'ingest')).catch(() => []);
  expect(ingest).toEqual([]);
}

function oneParagraph(stderr: string): string {
  const lines = stderr.trim().split('\n');
  const error = lines.filter((l) => l.startsWith('ribo: error:'));
  expect(error).toHaveLength(1);
  return error[0]!;
}

beforeAll(async () => {
  root = await makeStore();
});

afterAll(async () => {
  await removeStore(root);
  for (const dir of contexts) await execa('rm', ['-rf', dir]);
});

it('names the missing Dockerfile and how to point at one', async () => {
  const dir = await context({ 'README.txt': 'no Dockerfile here' });
  const result = await ribo(['build', '-t', 'x', dir], { root });
  expect(result.exitCode).not.toBe(0);
  const message = oneParagraph(result.stderr);
  expect(message).toContain(path.join(dir, 'Dockerfile'));
  expect(message).toMatch(/-f/);
});

it('names the file, line and instruction of an unknown instruction', async () => {
  const dir = await context({ Dockerfile: 'FROM scratch\nCOPY a /a\nFORM scratch\n', a: 'a' });
  const result = await ribo(['build', '-t', 'bad', dir], { root });
  expect(result.exitCode).not.toBe(0);
  const message = oneParagraph(result.stderr);
  expect(message).toContain('Dockerfile:3');
  expect(message).toContain('FORM');
  expect(message).toMatch(/FROM/);
});

it('shows the output and exit code of a failing RUN and tags nothing', async () => {
  const dir = await context({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo about to fail; exit 3"]\n' }, 'hello');
  const result = await ribo(['build', '-t', 'failing:latest', dir], { root });
  expect(result.exitCode).not.toBe(0);
  expect(result.stderr + result.stdout).toContain('about to fail');
  const message = oneParagraph(result.stderr);
  expect(message).toContain('Dockerfile:3');
  expect(message).toContain('code 3');
  const images = await riboOk(['images'], { root });
  expect(images.stdout).not.toContain('failing');
  await expectStoreConsistent();
});

it('says which image is missing for ribo run', async () => {
  // --pull never: without it ribo would try Docker Hub first (registry.test.ts covers that failure).
  const result = await ribo(['run', '--rm', '--pull', 'never', 'no-such-image:1.0', 'true'], { root });
  expect(result.exitCode).not.toBe(0);
  const message = oneParagraph(result.stderr);
  expect(message).toContain('no-such-image:1.0');
  expect(message).toContain('ribo images');
});

it('tells a user without subordinate ids which files to edit', async () => {
  if (!E2E_USER) return; // needs root to make that user; the check runs in CI
  const noSubids = `${E2E_USER}-nosubid`;
  const store = await makeStore(noSubids);
  try {
    const result = await ribo(['run', '--rm', 'hello', 'true'], { root: store, asUser: noSubids });
    expect(result.exitCode).not.toBe(0);
    const message = oneParagraph(result.stderr);
    expect(message).toContain('/etc/subuid');
    expect(message).toContain('/etc/subgid');
    expect(message).toContain(noSubids);
  } finally {
    await removeStore(store);
  }
});
