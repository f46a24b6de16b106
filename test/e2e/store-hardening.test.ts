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
import { chmod, chown, mkdir, mkdtemp, readdir, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { E2E_USER, blobPath, listLayer, makeContext, makeStore, outputReaches, readImage, removeStore, ribo, riboOk, spawnRibo, type RiboOptions } from './harness.js';

const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);
const modeOf = async (file: string) => ((await stat(file)).mode & 0o7777).toString(8);
const BUSYBOX_DOCKERFILE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n';

/** Waits for `find` to return something, polling (up to a minute: the machine may be loaded). */
async function eventually<T>(find: () => Promise<T | undefined>, what: string): Promise<T> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
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
  }, 120_000);
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
    // It runs until killed, so it is still there however long the test takes to look.
    const { child } = await spawnRibo(['run', '--rm', 'private', 'sh', '-c', 'umask; exec sleep 600'], opts());
    const umaskShown = outputReaches(child.stdout, '0022');
    const dir = await eventually(async () => {
      const [id] = await entries(path.join(root, 'containers'));
      const dir = id && path.join(root, 'containers', id);
      return dir && (await stat(path.join(dir, 'bundle', 'config.json')).catch(() => undefined)) ? dir : undefined;
    }, 'the planned container');
    expect(await modeOf(path.join(dir, 'state.json'))).toBe('600');
    expect(await modeOf(path.join(dir, 'bundle', 'config.json'))).toBe('600');
    await umaskShown;
    await riboOk(['kill', path.basename(dir)], opts());
    const result = await child;
    expect(result.stdout.trim()).toBe('0022');
  }, 120_000);
});

describe('a full disk', () => {
  let mountPoint: string;
  let archiveDir: string;
  let root: string;
  let context: string;
  const opts = (): RiboOptions => ({ root });
  const available = async () => {
    const info = await statfs(mountPoint);
    return info.bavail * info.bsize;
  };
  /** Fills the file system to the last byte (as root, which a tmpfs does not exempt). */
  const fill = async (name: string) => {
    await execa('sh', ['-c', `cat /dev/zero > ${path.join(mountPoint, name)}`], { reject: false });
    expect(await available()).toBeLessThan(64 * 1024);
  };
  beforeAll(async () => {
    mountPoint = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-full-'));
    archiveDir = await makeStore();
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mountPoint]);
    root = path.join(mountPoint, 'store');
    await mkdir(root);
    if (E2E_USER) {
      const { stdout } = await execa('id', ['-u', E2E_USER]);
      const { stdout: gid } = await execa('id', ['-g', E2E_USER]);
      await chown(mountPoint, Number(stdout), Number(gid));
      await chown(root, Number(stdout), Number(gid));
    }
    context = await makeContext({ Dockerfile: `${BUSYBOX_DOCKERFILE}RUN head -c 8000000 /dev/urandom > /random\n` }, 'hello');
  }, 120_000);
  afterAll(async () => {
    await execa('umount', ['-l', mountPoint], { reject: false });
    await execa('rm', ['-rf', mountPoint, context, archiveDir]);
  });

  it('images, ps, rm, rmi and prune work and free space; a build fails with a clear message and leaves nothing', async () => {
    await riboOk(['build', '-q', '-t', 'big', context], opts());
    // An archive outside the full file system, loaded back once it is full.
    const archive = path.join(archiveDir, 'big.tar');
    await riboOk(['save', '-o', archive, 'big'], opts());
    const id = (await riboOk(['run', '-d', 'big', 'sleep', '600'], opts())).stdout.trim();
    await fill('filler');

    expect((await riboOk(['images'], opts())).stdout).toContain('big');
    expect((await riboOk(['ps', '-a'], opts())).stdout).toContain(id.slice(0, 12));
    await riboOk(['rm', '-f', id], opts());
    expect((await riboOk(['rmi', 'big'], opts())).stdout).toContain('Untagged: big:latest');
    expect((await riboOk(['images', '-q'], opts())).stdout).toBe('');
    await riboOk(['prune', '--all'], opts());
    // The 8 MB layer, compressed in blobs/ and unpacked in layers/, is gone.
    expect(await available()).toBeGreaterThan(12_000_000);

    await fill('filler-2');
    const failed = await ribo(['build', '-t', 'big', context], opts());
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain('no space is left on the device (ENOSPC)');
    expect(failed.stderr).toContain(`The image store is ${root}.`);
    expect(failed.stderr).toContain('`ribo prune`');
    expect(failed.stderr).not.toContain('internal error');
    expect({ ingest: await entries(path.join(root, 'ingest')), tmp: await entries(path.join(root, 'tmp')) }).toEqual({ ingest: [], tmp: [] });

    const load = await ribo(['load', '-i', archive], opts());
    expect(load.exitCode).toBe(1);
    expect(load.stderr).toContain('no space is left on the device (ENOSPC)');
    expect(load.stderr).toContain(`The image store is ${root}.`);
    expect({ ingest: await entries(path.join(root, 'ingest')), tmp: await entries(path.join(root, 'tmp')) }).toEqual({ ingest: [], tmp: [] });
    expect((await riboOk(['images', '-q'], opts())).stdout).toBe('');
  }, 300_000);

  it('a layer blob that does not fit, written while the next steps run, fails the build: nothing tagged, nothing half-written', async () => {
    await execa('rm', ['-f', path.join(mountPoint, 'filler'), path.join(mountPoint, 'filler-2')]);
    await riboOk(['prune', '--all'], opts());
    const base = await makeContext({ Dockerfile: BUSYBOX_DOCKERFILE }, 'hello');
    const child = await makeContext({ Dockerfile: 'FROM base\nRUN head -c 8000000 /dev/urandom > /random\nRUN sleep 1\nRUN echo done > /done\n' });
    try {
      await riboOk(['build', '-q', '-t', 'base', base], opts());
      // Room for the step's 8 MB of files, not for its 8 MB blob as well (random bytes do not compress).
      const room = 12 * 1024 * 1024;
      await execa('sh', ['-c', `head -c ${(await available()) - room} /dev/zero > ${path.join(mountPoint, 'filler-3')}`]);
      const failed = await ribo(['build', '-t', 'child', child], opts());
      expect(failed.exitCode).toBe(1);
      expect(failed.stderr).toContain('no space is left on the device (ENOSPC)');
      expect(failed.stderr).not.toContain('internal error');
      // The step after it started: the blob failed in the background, not the step's own command.
      expect(failed.stderr).toMatch(/\] RUN sleep 1/);
      expect((await riboOk(['images'], opts())).stdout).not.toContain('child');
      expect({ ingest: await entries(path.join(root, 'ingest')), tmp: await entries(path.join(root, 'tmp')) }).toEqual({ ingest: [], tmp: [] });
    } finally {
      await execa('rm', ['-rf', base, child, path.join(mountPoint, 'filler-3')]);
    }
  }, 300_000);
});

describe('leftovers of killed writers', () => {
  let root: string;
  let context: string;
  let outDir: string;
  const opts = (): RiboOptions => ({ root });
  beforeAll(async () => {
    root = await makeStore();
    outDir = await makeStore();
    // 150 MB of random bytes: a save takes long enough to be killed midway.
    context = await makeContext({ Dockerfile: `${BUSYBOX_DOCKERFILE}RUN head -c 150000000 /dev/urandom > /random\n` }, 'hello');
    await riboOk(['build', '-q', '-t', 'big-save', context], opts());
  }, 300_000);
  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', context, outDir]);
  });

  it('the next save to the same file removes the temp file a killed save left', async () => {
    const target = path.join(outDir, 'big.tar');
    const saving = await spawnRibo(['save', '-o', target, 'big-save'], opts());
    const temp = await eventually(async () => {
      const found = (await entries(outDir)).find((name) => name.startsWith('.big.tar.') && name.endsWith('.tmp'));
      return found && (await stat(path.join(outDir, found))).size > 0 ? found : undefined;
    }, 'the save to start writing');
    process.kill(-saving.child.pid!, 'SIGKILL');
    await saving.child;
    expect(await entries(outDir)).toEqual([temp]);
    await riboOk(['save', '-o', target, 'big-save'], opts());
    expect(await entries(outDir)).toEqual(['big.tar']);
    expect((await stat(target)).size).toBeGreaterThan(150_000_000);
  }, 300_000);
});

describe('RUN --mount targets through a symlink', () => {
  let root: string;
  let context: string;
  const opts = (): RiboOptions => ({ root });
  beforeAll(async () => {
    root = await makeStore();
    context = await makeContext({
      Dockerfile: `${BUSYBOX_DOCKERFILE}RUN mkdir /data && ln -s /data /abs && ln -s data /rel\n` +
        'RUN --mount=type=tmpfs,target=/abs/tmp --mount=type=cache,target=/rel/cache/deep --mount=type=bind,target=/abs/ctx echo ok > /abs/tmp/x && touch /abs/ctx/y 2>/dev/null; ls /data/ctx > /listing\n',
      'file.txt': 'from the context\n',
    }, 'hello');
  }, 120_000);
  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  });

  it('mounts where the link points and leaves no mount point dir in the layer', async () => {
    await riboOk(['build', '-t', 'mount-links', context], opts());
    const image = await readImage(root, 'mount-links:latest');
    const last = image.manifest.layers.at(-1)!;
    const paths = (await listLayer(blobPath(root, last.digest))).map((entry) => entry.path.replace(/^\.\//, '').replace(/\/$/, ''));
    // What the step wrote, and no mount point (nor a parent made for one) under /data, where the links lead.
    // (/data itself is there as with a target named directly: the runtime's mkdir copied it up.)
    expect(paths).toContain('listing');
    expect(paths.filter((p) => p.startsWith('data/') || p.startsWith('abs') || p.startsWith('rel'))).toEqual([]);
    const listing = await riboOk(['run', '--rm', 'mount-links', 'cat', '/listing'], opts());
    expect(listing.stdout.split('\n')).toContain('file.txt');
  }, 300_000);
});
