/**
 * Volumes as an unprivileged user sees them: named volumes that outlive
 * their containers, anonymous volumes for an image's VOLUME filled from the
 * image, `ribo volume` and what prune keeps, and bind mounts a non-root
 * container user can write to (`:U`, `--userns keep-id`).
 */
import { execa } from 'execa';
import { chmod, chown, mkdtemp, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk, type RiboOptions } from './harness.js';

const asRoot = process.getuid?.() === 0;
let root: string;
let contexts: string[] = [];
let hostDirs: string[] = [];
const stores: string[] = [];
const opts = (extra: Partial<RiboOptions> = {}): RiboOptions => ({ root, ...extra });

/** The user ribo runs as, and the first of its subordinate ids (container uid 1 there). */
async function rootlessIds(): Promise<{ uid: number; gid: number; subuidStart: number }> {
  const name = E2E_USER ?? os.userInfo().username;
  const passwd = (await readFile('/etc/passwd', 'utf8')).split('\n').map((l) => l.split(':')).find((f) => f[0] === name)!;
  const subuid = (await readFile('/etc/subuid', 'utf8')).split('\n').map((l) => l.split(':')).find((f) => f[0] === name || f[0] === passwd[2])!;
  return { uid: Number(passwd[2]), gid: Number(passwd[3]), subuidStart: Number(subuid[1]) };
}

/** A host directory owned by the user ribo runs as, mode 0755: only that user may write to it. */
async function userOwnedDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-bind-'));
  const ids = await rootlessIds();
  if (asRoot) await chown(dir, ids.uid, ids.gid);
  await chmod(dir, 0o755);
  hostDirs.push(dir);
  return dir;
}

async function volumeNames(): Promise<string[]> {
  return (await riboOk(['volume', 'ls', '-q'], opts())).stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  root = await makeStore();
  const hello = await makeContext({}, 'hello');
  const withVolume = await makeContext({
    Dockerfile: [
      'FROM hello',
      'RUN mkdir -p /data/sub && echo seed > /data/seed.txt && echo deep > /data/sub/deep.txt && chown -R 1000:1000 /data/sub && chmod 0750 /data/sub',
      'VOLUME /data',
    ].join('\n'),
  });
  const fileVolume = await makeContext({ Dockerfile: 'FROM hello\nRUN echo file > /vfile\nVOLUME /vfile\n' });
  contexts = [hello, withVolume, fileVolume];
  await riboOk(['build', '-t', 'hello', hello], opts());
  await riboOk(['build', '-t', 'withvol', withVolume], opts());
  await riboOk(['build', '-t', 'filevol', fileVolume], opts());
}, 300_000);

afterAll(async () => {
  for (const store of [root, ...stores]) await removeStore(store);
  for (const dir of [...contexts, ...hostDirs]) await execa('rm', ['-rf', dir]);
});

describe('named volumes', () => {
  it('outlive their containers, are seen by the next one, and refuse writes when mounted :ro', async () => {
    await riboOk(['run', '--rm', '-v', 'shared:/vol', 'hello', 'sh', '-c', 'echo one > /vol/a'], opts());
    await riboOk(['run', '--name', 'writer', '--mount', 'type=volume,src=shared,dst=/vol', 'hello', 'sh', '-c', 'echo two >> /vol/a'], opts());
    await riboOk(['rm', 'writer'], opts());
    const out = await riboOk(['run', '--rm', '-v', 'shared:/vol:ro', 'hello', 'sh', '-c', 'cat /vol/a; echo x > /vol/b || echo ro-refused'], opts());
    expect(out.stdout).toBe('one\ntwo\nro-refused');
    expect(await volumeNames()).toContain('shared');
  });

  it('are listed, inspected, removed and pruned as with docker', async () => {
    expect((await riboOk(['volume', 'create', '--label', 'team=db', 'labelled'], opts())).stdout).toBe('labelled');
    const listed = (await riboOk(['volume', 'ls'], opts())).stdout.split('\n');
    expect(listed[0]).toMatch(/^DRIVER\s+VOLUME NAME$/);
    expect(listed).toContainEqual(expect.stringMatching(/^local\s+labelled$/));
    const [info] = JSON.parse((await riboOk(['volume', 'inspect', 'labelled'], opts())).stdout) as Array<Record<string, unknown>>;
    expect(info).toMatchObject({ Name: 'labelled', Driver: 'local', Scope: 'local', Labels: { team: 'db' }, Mountpoint: path.join(root, 'volumes', 'labelled', '_data') });
    expect(Number.isNaN(Date.parse(String(info!.CreatedAt)))).toBe(false);
    expect((await stat(String(info!.Mountpoint))).isDirectory()).toBe(true);

    // docker's rule: a volume any container mounts, running or not, is not removed, even with -f.
    await riboOk(['run', '--name', 'holder', '-v', 'labelled:/m', 'hello', 'true'], opts());
    for (const flags of [[], ['-f']]) {
      const refused = await ribo(['volume', 'rm', ...flags, 'labelled'], opts());
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('in use by container holder');
    }
    expect((await ribo(['volume', 'rm', 'no-such-volume'], opts())).exitCode).toBe(1);
    expect((await ribo(['volume', 'rm', '-f', 'no-such-volume'], opts())).exitCode).toBe(0);
    expect((await riboOk(['volume', 'ls', '--filter', 'dangling=false', '-q'], opts())).stdout).toContain('labelled');
    await riboOk(['rm', 'holder'], opts());
    expect((await riboOk(['volume', 'ls', '--filter', 'dangling=true', '-q'], opts())).stdout).toContain('labelled');

    // prune: anonymous volumes no container uses; named ones only with --all.
    await riboOk(['volume', 'create', 'kept-until-all'], opts());
    const before = await volumeNames();
    await riboOk(['run', '--name', 'anon', '-v', '/scratch', 'hello', 'sh', '-c', 'echo x > /scratch/f'], opts());
    await riboOk(['rm', 'anon'], opts());
    const anonymous = (await volumeNames()).filter((n) => !before.includes(n));
    expect(anonymous).toHaveLength(1);
    expect(anonymous[0]).toMatch(/^[0-9a-f]{64}$/);
    expect((await riboOk(['volume', 'ls', '-f', 'dangling=true', '-q'], opts())).stdout).toContain(anonymous[0]);
    const pruned = await riboOk(['volume', 'prune'], opts());
    expect(pruned.stdout).toContain(anonymous[0]);
    expect(await volumeNames()).toEqual(before);
    await riboOk(['volume', 'prune', '--all'], opts());
    expect(await volumeNames()).toEqual([]);
  });
});

describe('anonymous volumes for an image VOLUME', () => {
  it('are filled from the image, keep writes across ribo start, and go with rm -v', async () => {
    const before = await volumeNames();
    const script = 'cat /data/seed.txt /data/sub/deep.txt; stat -c "%u:%g %a" /data/sub; touch /data/runs; wc -l < /data/runs; echo run >> /data/runs';
    const first = await riboOk(['run', '--name', 'vc', 'withvol', 'sh', '-c', script], opts());
    expect(first.stdout).toBe('seed\ndeep\n1000:1000 750\n0');
    const [created] = (await volumeNames()).filter((n) => !before.includes(n));
    expect(created).toBeDefined();
    expect(await readFile(path.join(root, 'volumes', created!, '_data', 'seed.txt'), 'utf8')).toBe('seed\n');
    const mounts = JSON.parse((await riboOk(['inspect', '-f', '{{json .Mounts}}', 'vc'], opts())).stdout) as Array<Record<string, unknown>>;
    expect(mounts).toContainEqual(expect.objectContaining({ Type: 'volume', Name: created, Destination: '/data', RW: true }));

    const again = await riboOk(['start', '-a', 'vc'], opts());
    expect(again.stdout).toBe('seed\ndeep\n1000:1000 750\n1');
    await riboOk(['rm', '-v', 'vc'], opts());
    expect(await volumeNames()).toEqual(before);
  });

  it('are removed with run --rm; a volume with data is not filled again, and nocopy leaves it empty', async () => {
    const before = await volumeNames();
    expect((await riboOk(['run', '--rm', 'withvol', 'cat', '/data/seed.txt'], opts())).stdout).toBe('seed');
    expect(await volumeNames()).toEqual(before);

    await riboOk(['run', '--rm', '-v', 'prefilled:/data', 'hello', 'sh', '-c', 'echo mine > /data/own.txt'], opts());
    expect((await riboOk(['run', '--rm', '-v', 'prefilled:/data', 'withvol', 'ls', '/data'], opts())).stdout).toBe('own.txt');
    expect((await riboOk(['run', '--rm', '-v', 'empty:/data:nocopy', 'withvol', 'ls', '-A', '/data'], opts())).stdout).toBe('');
    // A named volume at the VOLUME path takes its place: no anonymous one is made.
    expect(await volumeNames()).toEqual([...before, 'empty', 'prefilled'].sort());
  });

  it('cannot go over a file of the image (as with docker); --image-volume ignore leaves them out', async () => {
    const before = await volumeNames();
    const refused = await ribo(['run', '--rm', 'filevol', 'cat', '/vfile'], opts());
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('/vfile is a file in the image');
    expect(refused.stderr).toContain('--image-volume ignore');
    expect((await riboOk(['run', '--rm', '--image-volume', 'ignore', 'filevol', 'cat', '/vfile'], opts())).stdout).toBe('file');
    expect((await riboOk(['run', '--rm', '--image-volume', 'ignore', 'withvol', 'sh', '-c', 'grep -c " /data " /proc/mounts || true'], opts())).stdout).toBe('0');
    expect(await volumeNames()).toEqual(before);
  });

  it('keep their data through ribo prune --all, rmi and rm without -v', async () => {
    await riboOk(['run', '--name', 'keeper', '-v', 'precious:/p', 'withvol', 'sh', '-c', 'echo gold > /p/f'], opts());
    const anonymous = (JSON.parse((await riboOk(['inspect', '-f', '{{json .Mounts}}', 'keeper'], opts())).stdout) as Array<{ Name?: string; Destination: string }>)
      .find((m) => m.Destination === '/data')!.Name!;
    await riboOk(['rm', 'keeper'], opts());
    await riboOk(['build', '-t', 'throwaway', contexts[1]!], opts());
    await riboOk(['rmi', 'throwaway'], opts());
    await riboOk(['prune', '--all'], opts());
    expect(await readFile(path.join(root, 'volumes', 'precious', '_data', 'f'), 'utf8')).toBe('gold\n');
    expect(await readFile(path.join(root, 'volumes', anonymous, '_data', 'seed.txt'), 'utf8')).toBe('seed\n');
    expect((await riboOk(['run', '--rm', '-v', 'precious:/p', 'hello', 'cat', '/p/f'], opts())).stdout).toBe('gold');
  });
});

describe('bind mounts for a non-root container user', () => {
  it(':U gives the host directory to the container user, as podman does', async () => {
    const dir = await userOwnedDir();
    const refused = await ribo(['run', '--rm', '-u', '1000', '-v', `${dir}:/out`, 'hello', 'sh', '-c', 'echo x > /out/f'], opts());
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain('Permission denied');
    const out = await riboOk(['run', '--rm', '-u', '1000:1000', '-v', `${dir}:/out:U`, 'hello', 'sh', '-c', 'echo x > /out/f && stat -c "%u:%g" /out /out/f'], opts());
    expect(out.stdout).toBe('1000:1000\n1000:1000');
    // On the host: container id 1000 is the 1000th subordinate id (ribo's id 0 is the user itself).
    const { subuidStart } = await rootlessIds();
    expect((await stat(path.join(dir, 'f'))).uid).toBe(subuidStart + 999);
  });

  it('--userns keep-id runs as the caller\'s own ids, so files written land on the host as theirs', async () => {
    const dir = await userOwnedDir();
    const ids = await rootlessIds();
    const out = await riboOk(['run', '--rm', '--userns', 'keep-id', '-v', `${dir}:/out`, 'hello', 'sh', '-c', 'id -u; id -g; echo y > /out/k && stat -c "%u" /out/k; grep "^[^:]*:[^:]*:$(id -u):" /etc/passwd | cut -d: -f1'], opts());
    const name = E2E_USER ?? os.userInfo().username;
    expect(out.stdout).toBe(`${ids.uid}\n${ids.gid}\n${ids.uid}\n${name}`);
    const written = await stat(path.join(dir, 'k'));
    expect([written.uid, written.gid]).toEqual([ids.uid, ids.gid]);
    // The passwd entry is the container's: the image is unchanged.
    expect((await riboOk(['run', '--rm', 'hello', 'sh', '-c', `cat /etc/passwd 2>/dev/null | grep -c ":${ids.uid}:" || true`], opts())).stdout).toBe('0');
  });

  it('--userns keep-id works detached (under conmon), also in a store dir given to the user by root with chown USER', async () => {
    // As root the store is made the way an admin hands a directory over: `mkdir; chown USER` (group root, mode 0700).
    // The runtime resolves the rootfs as the container's root (a subordinate id), which such a directory stopped.
    const ids = await rootlessIds();
    const store = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-keepid-'));
    stores.push(store);
    if (asRoot) await chown(store, ids.uid, 0);
    await chmod(store, 0o700);
    const own = opts({ root: store });
    await riboOk(['build', '-q', '-t', 'hello', contexts[0]!], own);
    const dir = await userOwnedDir();
    const id = (await riboOk(['run', '-d', '--userns', 'keep-id', '-v', `${dir}:/out`, 'hello', 'sh', '-c', 'id -u; echo detached > /out/d'], own)).stdout;
    expect((await riboOk(['wait', id], own)).stdout).toBe('0');
    expect((await riboOk(['logs', id], own)).stdout).toBe(String(ids.uid));
    const written = await stat(path.join(dir, 'd'));
    expect([written.uid, written.gid]).toEqual([ids.uid, ids.gid]);
    expect(await readFile(path.join(dir, 'd'), 'utf8')).toBe('detached\n');
    // The store's access is unchanged: its owner only.
    expect((await stat(store)).mode & 0o777).toBe(0o700);
    await riboOk(['rm', id], own);
  }, 120_000);
});
