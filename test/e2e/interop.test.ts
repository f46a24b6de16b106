/**
 * Round trips with the real peers: podman, buildah, skopeo and umoci, run as
 * root by the test; ribo runs as the unprivileged e2e user. Files go through
 * a directory both can use.
 *
 * podman and buildah on these machines (hybrid cgroups, a container whose
 * root cannot raise rlimits): `--runtime runc` (crun refuses hybrid cgroups),
 * explicit `--ulimit nofile/nproc` below the hard limits, the vfs storage
 * driver, and stores of their own under the exchange directory.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdtemp, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ARCHIVE_DOCKERFILE, ARCHIVE_OUTPUT } from './archive-image.js';
import { E2E_USER, makeContext, makeStore, readImage, removeStore, riboOk } from './harness.js';

/** The peers run as root and ribo as the e2e user: only a root test run has both. */
const peers = process.getuid?.() === 0 && E2E_USER !== undefined ? describe : describe.skip;

let root: string;
let context: string;
let exchange: string;
const opts = () => ({ root });
const file = (name: string) => path.join(exchange, name);

const podmanRunroots: string[] = [];

/** podman refuses a runroot longer than 50 characters: storage/run is a short link to one. */
async function podman(args: string[], storage: string) {
  const runroot = path.join(storage, 'run');
  if (!(await lstat(runroot).catch(() => undefined))) {
    await execa('mkdir', ['-p', storage]);
    const short = await mkdtemp('/tmp/ribo-pr-');
    podmanRunroots.push(short);
    await execa('ln', ['-s', short, runroot]);
  }
  return execa('podman', ['--root', path.join(storage, 'root'), '--runroot', await realpath(runroot), '--storage-driver', 'vfs', '--runtime', 'runc', ...args], { reject: false });
}

function buildah(args: string[]) {
  return execa('buildah', ['--root', file('buildah/root'), '--runroot', file('buildah/run'), '--storage-driver', 'vfs', ...args], { reject: false });
}

const PODMAN_RUN = ['run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

async function asRoot(command: string, args: string[]) {
  const result = await execa(command, args, { reject: false });
  if (result.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.exitCode}\n${result.stdout}\n${result.stderr}`);
  return result;
}

beforeAll(async () => {
  if (process.getuid?.() !== 0 || E2E_USER === undefined) return;
  root = await makeStore();
  context = await makeContext({ Dockerfile: ARCHIVE_DOCKERFILE }, 'hello');
  exchange = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-interop-'));
  await chmod(exchange, 0o1777);
  await riboOk(['build', '-t', 'arch:1', context], opts());
});

afterAll(async () => {
  if (!root) return;
  await removeStore(root);
  // podman's own clean-up may still be finishing: a failed removal must not fail the suite.
  await execa('rm', ['-rf', ...podmanRunroots], { reject: false });
  await execa('rm', ['-rf', context, exchange], { reject: false });
});

peers('podman', () => {
  for (const format of ['docker-archive', 'oci-archive'] as const) {
    it(`loads and runs an image ribo saved as ${format}`, async () => {
      await riboOk(['save', '--format', format, '-o', file(`podman.${format}.tar`), 'arch:1'], opts());
      const storage = file(`podman-${format}`);
      const loaded = await podman(['load', '-i', file(`podman.${format}.tar`)], storage);
      expect(loaded.stderr + loaded.stdout).toContain('Loaded image: localhost/arch:1');
      const run = await podman([...PODMAN_RUN, 'localhost/arch:1'], storage);
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe(ARCHIVE_OUTPUT);
      const owners = await podman([...PODMAN_RUN, 'localhost/arch:1', 'stat', '-c', '%n %u:%g %a', '/data/user.txt', '/data/suid'], storage);
      expect(owners.stdout.trim().split('\n')).toEqual(['/data/user.txt 1000:1000 644', '/data/suid 0:0 4755']);
    });
  }
});

peers('buildah', () => {
  it('builds an image that ribo loads from an oci-archive and runs', async () => {
    const ctx = file('buildah-ctx');
    await execa('mkdir', ['-p', ctx]);
    await execa('cp', ['/bin/busybox', ctx]);
    await execa('sh', ['-c', `cat > '${ctx}/Dockerfile' <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo built by buildah > /hello.txt && rm /bin/vi
CMD ["/bin/sh", "-c", "cat /hello.txt; ls /bin/vi 2>&1 || true"]
EOF`]);
    const built = await buildah(['bud', '--runtime', 'runc', '--isolation', 'chroot', '-t', 'busy', ctx]);
    expect(built.exitCode).toBe(0);
    const pushed = await buildah(['push', 'busy', `oci-archive:${file('busy.tar')}:busy:latest`]);
    expect(pushed.exitCode).toBe(0);
    await chmod(file('busy.tar'), 0o644);

    const other = await makeStore();
    try {
      expect((await riboOk(['load', '-i', file('busy.tar')], { root: other })).stdout).toContain('Loaded image: busy:latest');
      const run = await riboOk(['run', '--rm', 'busy'], { root: other });
      expect(run.stdout).toContain('built by buildah');
      expect(run.stdout).toMatch(/vi.*No such file/);
      const direct = await riboOk(['run', '--rm', `oci-archive:${file('busy.tar')}`, 'cat', '/hello.txt'], { root: other });
      expect(direct.stdout.trim()).toBe('built by buildah');
    } finally {
      await removeStore(other);
    }
  });
});

peers('skopeo', () => {
  it('copies ribo\'s layout to an oci-archive and back into a layout that ribo loads and runs', async () => {
    await asRoot('skopeo', ['copy', `oci:${root}:arch:1`, `oci-archive:${file('skopeo.tar')}:arch:1`]);
    await asRoot('skopeo', ['copy', `oci-archive:${file('skopeo.tar')}:arch:1`, `oci:${file('skopeo-layout')}:arch:2`]);
    await execa('chmod', ['-R', 'a+rX', file('skopeo-layout'), file('skopeo.tar')]);
    const original = await readImage(root, 'arch:1');
    const other = await makeStore();
    try {
      await riboOk(['load', '-i', file('skopeo-layout')], { root: other });
      const copy = await readImage(other, 'arch:2');
      expect(copy.manifest.layers).toEqual(original.manifest.layers);
      expect(copy.config.rootfs).toEqual(original.config.rootfs);
      expect((await riboOk(['run', '--rm', 'arch:2'], { root: other })).stdout.trim()).toBe(ARCHIVE_OUTPUT);
      // The archive skopeo wrote loads too.
      await riboOk(['load', '-i', file('skopeo.tar')], { root: other });
      expect((await riboOk(['run', '--rm', 'arch:1', 'cat', '/data/hard.txt'], { root: other })).stdout.trim()).toBe('hi');
    } finally {
      await removeStore(other);
    }
  });
});

/** One file system object, as compared between trees. */
interface TreeNode {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  content?: string;
  target?: string;
}

async function describeNode(full: string): Promise<TreeNode & { whiteout: boolean }> {
  const info = await lstat(full);
  const node: TreeNode & { whiteout: boolean } = {
    type: info.isFile() ? 'file' : info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : 'other',
    mode: info.mode & 0o7777,
    uid: info.uid,
    gid: info.gid,
    whiteout: info.isCharacterDevice() && info.rdev === 0,
  };
  if (info.isFile()) node.content = createHash('sha256').update(await readFile(full)).digest('hex');
  if (info.isSymbolicLink()) node.target = await readlink(full);
  return node;
}

async function isOpaque(dir: string): Promise<boolean> {
  const result = await execa('getfattr', ['--absolute-names', '--only-values', '-n', 'user.overlay.opaque', dir], { reject: false });
  return result.exitCode === 0 && result.stdout === 'y';
}

/** ribo's unpacked layers (overlay lower dirs, bottom first) merged as overlay shows them. */
async function mergeLayers(layerDirs: string[]): Promise<Map<string, TreeNode>> {
  const tree = new Map<string, TreeNode>();
  const dropBelow = (p: string) => {
    for (const key of [...tree.keys()]) if (key.startsWith(`${p}/`)) tree.delete(key);
  };
  const walk = async (layer: string, rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(layer, rel))).sort()) {
      const p = `${rel}/${name}`;
      const { whiteout, ...node } = await describeNode(path.join(layer, p));
      if (whiteout) {
        tree.delete(p);
        dropBelow(p);
        continue;
      }
      if (node.type !== 'dir' || (await isOpaque(path.join(layer, p)))) dropBelow(p);
      tree.set(p, node);
      if (node.type === 'dir') await walk(layer, p);
    }
  };
  for (const layer of layerDirs) await walk(layer, '');
  return tree;
}

async function readTree(dir: string): Promise<Map<string, TreeNode>> {
  const tree = new Map<string, TreeNode>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const p = `${rel}/${name}`;
      const { whiteout: _, ...node } = await describeNode(path.join(dir, p));
      tree.set(p, node);
      if (node.type === 'dir') await walk(p);
    }
  };
  await walk('');
  return tree;
}

/** Host ids of ribo's unpacked files back to the image's ids: the user is 0, the subordinate range 1.. */
async function imageIdMapper(): Promise<(id: number, kind: 'uid' | 'gid') => number> {
  const passwd = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${E2E_USER}:`))!.split(':');
  const start = async (file: string) => Number((await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith(`${E2E_USER}:`))!.split(':')[1]);
  const base = { uid: Number(passwd[2]), gid: Number(passwd[3]) };
  const sub = { uid: await start('/etc/subuid'), gid: await start('/etc/subgid') };
  return (id, kind) => (id === base[kind] ? 0 : id - sub[kind] + 1);
}

peers('umoci', () => {
  let riboTree: Map<string, TreeNode>;

  beforeAll(async () => {
    await riboOk(['run', '--rm', 'arch:1', 'true'], opts());
    const image = await readImage(root, 'arch:1');
    const toImage = await imageIdMapper();
    const merged = await mergeLayers(image.config.rootfs.diff_ids.map((d: string) => path.join(root, 'layers', d.slice(7))));
    riboTree = new Map([...merged].map(([p, node]) => [p, { ...node, uid: toImage(node.uid, 'uid'), gid: toImage(node.gid, 'gid') }]));
    // The test image has what the comparison must cover.
    expect(riboTree.get('/data/user.txt')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(riboTree.get('/data/suid')).toMatchObject({ mode: 0o4755 });
    expect(riboTree.get('/data/link')).toMatchObject({ type: 'symlink', target: 'file.txt' });
    expect(riboTree.has('/data/gone.txt')).toBe(false);
    expect([...riboTree.keys()].filter((p) => p.startsWith('/data/old/'))).toEqual(['/data/old/c.txt']);
  });

  it('unpacks (as root) the same tree as ribo: paths, types, modes, owners, contents, link targets', async () => {
    const bundle = file('umoci-root');
    await asRoot('umoci', ['unpack', '--image', `${root}:arch:1`, bundle]);
    const umociTree = await readTree(path.join(bundle, 'rootfs'));
    expect(Object.fromEntries(umociTree)).toEqual(Object.fromEntries(riboTree));
    const [file1, hard] = [await lstat(path.join(bundle, 'rootfs/data/file.txt')), await lstat(path.join(bundle, 'rootfs/data/hard.txt'))];
    expect(hard.ino).toBe(file1.ino);
  });

  it('unpacks --rootless the same tree, every file owned by the user who ran umoci', async () => {
    const bundle = file('umoci-rootless');
    const unpacked = await execa('runuser', ['-u', E2E_USER!, '--', 'umoci', 'unpack', '--rootless', '--image', `${root}:arch:1`, bundle], { reject: false, cwd: '/' });
    expect(unpacked.stderr).not.toMatch(/error/i);
    expect(unpacked.exitCode).toBe(0);
    const user = await lstat(root);
    const umociTree = await readTree(path.join(bundle, 'rootfs'));
    const expected = new Map([...riboTree].map(([p, node]) => [p, { ...node, uid: user.uid, gid: user.gid }]));
    expect(Object.fromEntries(umociTree)).toEqual(Object.fromEntries(expected));
  });
});
