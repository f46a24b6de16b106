/** ribo run by root works too: no user namespace of its own, real ids. */
import { execa } from 'execa';
import { makeContext, makeStore, removeStore, ribo, riboOk, until } from './harness.js';

const asRoot = process.getuid?.() === 0;
let root: string;
let context: string;

beforeAll(async () => {
  root = await makeStore('root');
  context = await makeContext({}, 'hello');
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

(asRoot ? it : it.skip)('builds and runs the hello fixture as root', async () => {
  const info = JSON.parse((await riboOk(['info', '--format', 'json'], { root, asUser: 'root' })).stdout);
  expect(info.rootless).toBe(false);
  await riboOk(['build', '-t', 'hello', context], { root, asUser: 'root' });
  const { stdout } = await riboOk(['run', '--rm', 'hello', 'sh', '-c', 'cat /app/greeting.txt; stat -c %u:%g /home/app/owned.txt'], { root, asUser: 'root' });
  expect(stdout).toContain('Hello from a ribo container!');
  expect(stdout).toContain('1000:1000');
});

(asRoot ? it : it.skip)('runs a detached container as root: exec joins its mount namespace, stop and rm end it', async () => {
  const opts = { root, asUser: 'root' };
  await riboOk(['build', '-t', 'hello', context], opts);
  await riboOk(['run', '-d', '--name', 'bg', 'hello', 'sh', '-c', 'echo ready > /ready; exec sleep 1000'], opts);
  // run -d returns once the container started, maybe before its shell has written the file.
  await until('exec to read the file the container wrote', async () => (await ribo(['exec', 'bg', 'cat', '/ready'], opts)).stdout.trim() === 'ready');
  await riboOk(['stop', '-t', '1', 'bg'], opts);
  expect((await riboOk(['ps', '-a'], opts)).stdout).toMatch(/Exited \(137\).*bg/);
  await riboOk(['rm', 'bg'], opts);
  expect((await riboOk(['ps', '-a', '-q'], opts)).stdout.trim()).toBe('');
});
