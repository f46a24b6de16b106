import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDirsInRoot, NotADirectoryInImageError, resolveInRoot, SymlinkLoopError } from '../../src/files/root-path.js';

let base: string;
let root: string;

beforeEach(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'ribo-rootpath-'));
  root = path.join(base, 'rootfs');
  await fs.mkdir(path.join(root, 'etc'), { recursive: true });
  await fs.writeFile(path.join(root, 'etc', 'passwd'), 'root:x:0:0\n');
  // A file outside the root with the same name: reaching it would be an escape.
  await fs.mkdir(path.join(base, 'etc'));
  await fs.writeFile(path.join(base, 'etc', 'passwd'), 'host\n');
});

afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

const me = { uid: process.getuid!(), gid: process.getgid!() };

describe('resolveInRoot', () => {
  it('maps plain paths below the root', async () => {
    expect(await resolveInRoot(root, '/etc/passwd')).toBe(path.join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, 'etc/./passwd')).toBe(path.join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/')).toBe(root);
  });

  it('restarts an absolute symlink at the root, not at the host /', async () => {
    await fs.mkdir(path.join(root, 'usr'));
    await fs.symlink('/etc', path.join(root, 'usr', 'conf'));
    const resolved = await resolveInRoot(root, '/usr/conf/passwd');
    expect(resolved).toBe(path.join(root, 'etc/passwd'));
    expect(await fs.readFile(resolved, 'utf8')).toBe('root:x:0:0\n');
  });

  it('follows a relative symlink from the link\'s directory', async () => {
    await fs.mkdir(path.join(root, 'a', 'b'), { recursive: true });
    await fs.symlink('../../etc', path.join(root, 'a', 'b', 'up'));
    expect(await resolveInRoot(root, '/a/b/up/passwd')).toBe(path.join(root, 'etc/passwd'));
  });

  it('follows the last component when it is a link', async () => {
    await fs.symlink('etc/passwd', path.join(root, 'pw'));
    expect(await resolveInRoot(root, '/pw')).toBe(path.join(root, 'etc/passwd'));
  });

  it('never lets .. climb above the root, in the path or in a link', async () => {
    expect(await resolveInRoot(root, '/../../etc/passwd')).toBe(path.join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '../etc/passwd')).toBe(path.join(root, 'etc/passwd'));
    await fs.symlink('../../../../../etc', path.join(root, 'escape'));
    const resolved = await resolveInRoot(root, '/escape/passwd');
    expect(resolved).toBe(path.join(root, 'etc/passwd'));
    expect(await fs.readFile(resolved, 'utf8')).toBe('root:x:0:0\n');
  });

  it('takes .. after a link as the parent of the link\'s target', async () => {
    await fs.mkdir(path.join(root, 'opt', 'app', 'bin'), { recursive: true });
    await fs.symlink('/opt/app/bin', path.join(root, 'bin'));
    expect(await resolveInRoot(root, '/bin/../lib')).toBe(path.join(root, 'opt/app/lib'));
  });

  it('resolves a dangling link to where its target would be, inside the root', async () => {
    await fs.symlink('/var/missing/file', path.join(root, 'dangling'));
    expect(await resolveInRoot(root, '/dangling')).toBe(path.join(root, 'var/missing/file'));
    await fs.symlink('../../../nowhere', path.join(root, 'etc', 'rel-dangling'));
    expect(await resolveInRoot(root, '/etc/rel-dangling')).toBe(path.join(root, 'nowhere'));
  });

  it('stops at a symlink loop with a typed error', async () => {
    await fs.symlink('/b', path.join(root, 'a'));
    await fs.symlink('/a', path.join(root, 'b'));
    await expect(resolveInRoot(root, '/a/x')).rejects.toBeInstanceOf(SymlinkLoopError);
    await fs.symlink('self', path.join(root, 'self'));
    await expect(resolveInRoot(root, '/self')).rejects.toThrow(/Too many symbolic links while resolving \/self/);
  });
});

describe('makeDirsInRoot', () => {
  it('makes the missing directories with the owner asked for', async () => {
    const made = await makeDirsInRoot(root, '/srv/data/cache', me, 'WORKDIR');
    expect(made).toBe(path.join(root, 'srv/data/cache'));
    const info = await fs.stat(made);
    expect(info.isDirectory()).toBe(true);
    expect({ uid: info.uid, gid: info.gid }).toEqual(me);
    expect(info.mode & 0o777).toBe(0o755 & ~process.umask());
  });

  it('makes a dangling link\'s target, inside the root', async () => {
    await fs.symlink('/data/real', path.join(root, 'data-link'));
    const made = await makeDirsInRoot(root, '/data-link/sub', me, 'COPY');
    expect(made).toBe(path.join(root, 'data/real/sub'));
    expect((await fs.stat(path.join(root, 'data/real/sub'))).isDirectory()).toBe(true);
    await expect(fs.access(path.join(base, 'data'))).rejects.toThrow();
  });

  it('stays inside the root when the path climbs with ..', async () => {
    const made = await makeDirsInRoot(root, '/../../outside/dir', me, 'COPY');
    expect(made).toBe(path.join(root, 'outside/dir'));
    await expect(fs.access(path.join(base, 'outside'))).rejects.toThrow();
  });

  it('names the path when a component is a file', async () => {
    await expect(makeDirsInRoot(root, '/etc/passwd/sub', me, 'Cannot copy into /etc/passwd/sub')).rejects.toThrow(NotADirectoryInImageError);
    await expect(makeDirsInRoot(root, '/etc/passwd/sub', me, 'WORKDIR /etc/passwd/sub')).rejects.toThrow(
      'WORKDIR /etc/passwd/sub: /etc/passwd exists in the image and is not a directory.',
    );
  });
});
