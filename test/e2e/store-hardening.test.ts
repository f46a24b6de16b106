/**
 * A store other users cannot read or use, and that keeps working on a full
 * disk, as an unprivileged user (issue 16): the root is 0700 and the files
 * holding -e values and build output are 0600, whichever way they were
 * written (Node or a planned run); an older 0755 store is tightened when
 * opened; `rmi`, `prune` and `images` free space on a full file system and a
 * build there fails with one clear message; killed writers leave no temp
 * files; RUN --mount targets through symlinks leave nothing in the layer.
 */
import { execa } from 'execa';
import { chmod, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeContext, makeStore, removeStore, ribo, riboOk, spawnRibo, type RiboOptions } from './harness.js';

const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);
const modeOf = async (file: string) => ((await stat(file)).mode & 0o7777).toString(8);
const BUSYBOX_DOCKERFILE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n';

/** Waits for `find` to return something, polling. */
async function eventually<T>(find: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const found = await find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('who can read the store', () => {
  let root: string;
  let context: string;
  const opts = (): RiboOptions => ({ root });
  beforeAll(async () => {
    root = await makeStore();
    await chmod(root, 0o755);
    context = await makeContext({ Dockerfile: `${BUSYBOX_DOCKERFILE}RUN echo built-secret-output\n` }, 'hello');
  }, 60_000);
  afterAll(async () => {
    const left = await ribo(['ps', '-a', '-q'], opts());
    for (const id of left.stdout.split('\n').filter(Boolean)) await ribo(['rm', '-f', id], opts());
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  });

  it('an existing 0755 store is made 0700 when opened', async () => {
    await riboOk(['images'], opts());
    expect(await modeOf(root)).toBe('700');
  });

  it('build logs, container records and bundles are 0600', async () => {
    await riboOk(['build', '--progress', 'plain', '-t', 'private', context], opts());
    const logs = path.join(root, 'builds');
    const build = (await entries(logs)).at(-1)!;
    const logFiles = await entries(path.join(logs, build));
    expect(logFiles.length).toBeGreaterThan(0);
    for (const name of logFiles) expect([name, await modeOf(path.join(logs, build, name))]).toEqual([name, '600']);

    const id = (await riboOk(['run', '-d', '-e', 'SECRET=x', 'private', 'sleep', '60'], opts())).stdout.trim();
    const dir = path.join(root, 'containers', id);
    expect(await modeOf(path.join(dir, 'state.json'))).toBe('600');
    expect(await modeOf(path.join(dir, 'bundle', 'config.json'))).toBe('600');
    // The container itself still gets docker's umask.
    expect((await riboOk(['exec', id, 'sh', '-c', 'umask'], opts())).stdout.trim()).toBe('0022');
    await riboOk(['rm', '-f', id], opts());
  }, 300_000);

  it('a planned run writes its record and bundle 0600 and gives the container umask 0022', async () => {
    await riboOk(['run', '--rm', 'private', 'true'], opts());
    expect(await modeOf(path.join(root, 'run-plans', 'crun', 'private.plan'))).toBe('600');
    const { child } = await spawnRibo(['run', '--rm', 'private', 'sh', '-c', 'umask; sleep 3'], opts());
    const dir = await eventually(async () => {
      const [id] = await entries(path.join(root, 'containers'));
      const dir = id && path.join(root, 'containers', id);
      return dir && (await stat(path.join(dir, 'bundle', 'config.json')).catch(() => undefined)) ? dir : undefined;
    }, 'the planned container');
    expect(await modeOf(path.join(dir, 'state.json'))).toBe('600');
    expect(await modeOf(path.join(dir, 'bundle', 'config.json'))).toBe('600');
    const result = await child;
    expect(result.stdout.trim()).toBe('0022');
  }, 120_000);
});
