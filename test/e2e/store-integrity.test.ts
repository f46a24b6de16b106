/**
 * The store under stress, as an unprivileged user: ribo killed with SIGKILL while it
 * writes a layer blob, two builds into one store at once, and hostile or damaged
 * tarballs given to `ribo import`. Afterwards the store must be consistent: every
 * index entry resolves, every blob hashes to its name, no temp leftovers.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { blobPath, makeContext, makeStore, removeStore, ribo, riboOk, type RiboOptions } from './harness.js';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

/** What a user (or skopeo) relies on: every tag resolves to blobs that are there and intact. */
async function expectConsistent(root: string): Promise<string[]> {
  const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const blobs = await entries(path.join(root, 'blobs', 'sha256'));
  for (const name of blobs) expect(await sha256File(path.join(root, 'blobs', 'sha256', name))).toBe(`sha256:${name}`);
  for (const entry of index.manifests) {
    const manifest = JSON.parse(await readFile(blobPath(root, entry.digest), 'utf8'));
    for (const child of [manifest.config, ...manifest.layers]) expect(blobs).toContain(child.digest.slice('sha256:'.length));
  }
  return index.manifests.map((entry) => entry.annotations?.['org.opencontainers.image.ref.name'] ?? '').sort();
}

async function expectNoLeftovers(root: string): Promise<void> {
  expect({ ingest: await entries(path.join(root, 'ingest')), tmp: await entries(path.join(root, 'tmp')) }).toEqual({ ingest: [], tmp: [] });
}

describe('a build killed while it writes a layer blob', () => {
  let root: string;
  let context: string;
  const opts = (): RiboOptions => ({ root, driver: 'overlay' });
  beforeAll(async () => {
    root = await makeStore();
    // 300 MB of random bytes take seconds to compress: time enough to kill ribo mid-write.
    context = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN head -c 300000000 /dev/urandom > /big && echo done > /marker\n' }, 'hello');
  });
  afterAll(async () => {
    await removeStore(root);
    await execa('rm', ['-rf', context]);
  });

  it('leaves the store consistent, the next command cleans up, and a rebuild works', async () => {
    const building = ribo(['build', '-t', 'big', context], opts());
    const ingestDir = path.join(root, 'ingest');
    let killedPid: number | undefined;
    const deadline = Date.now() + 120_000;
    while (killedPid === undefined && Date.now() < deadline) {
      for (const name of await entries(ingestDir)) {
        const size = (await stat(path.join(ingestDir, name)).catch(() => undefined))?.size ?? 0;
        // Ingest names start with the writer's pid: kill exactly the process writing the blob.
        if (/^\d+\.\d+-blob-/.test(name) && size > 20_000_000) {
          killedPid = Number(name.split('.')[0]);
          process.kill(killedPid, 'SIGKILL');
          break;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const result = await building;
    expect(killedPid).toBeDefined();
    expect(result.exitCode).not.toBe(0);

    // Nothing half-written is visible: no tag, and every blob in blobs/ is whole.
    expect(await expectConsistent(root)).toEqual([]);
    expect((await entries(ingestDir)).length).toBeGreaterThan(0); // the partial blob, still in ingest/

    // The next command, whatever it is, removes what the dead process left.
    await riboOk(['images'], opts());
    await expectNoLeftovers(root);

    await riboOk(['build', '-t', 'big', context], opts());
    const { stdout } = await riboOk(['run', '--rm', 'big', 'sh', '-c', 'stat -c %s /big; cat /marker'], opts());
    expect(stdout.trim().split('\n')).toEqual(['300000000', 'done']);
    expect(await expectConsistent(root)).toEqual(['big:latest']);
    await expectNoLeftovers(root);
  });
});

describe('two builds into one store at once', () => {
  it('both succeed, each tag gets its own image, and the store stays consistent', async () => {
    const root = await makeStore();
    const dockerfile = (name: string) => `FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nRUN head -c 20000000 /dev/urandom > /noise && echo ${name} > /name\nCMD ["cat", "/name"]\n`;
    const contexts = await Promise.all(['left', 'right'].map((name) => makeContext({ Dockerfile: dockerfile(name) }, 'hello')));
    try {
      const results = await Promise.all(
        (['left', 'right'] as const).map((name, i) => ribo(['build', '-t', name, contexts[i]!], { root, driver: i === 0 ? 'overlay' : 'fuse-overlayfs' })),
      );
      for (const result of results) expect(result).toMatchObject({ exitCode: 0 });
      for (const name of ['left', 'right']) {
        const { stdout } = await riboOk(['run', '--rm', name], { root });
        expect(stdout.trim()).toBe(name);
      }
      expect(await expectConsistent(root)).toEqual(['left:latest', 'right:latest']);
      await expectNoLeftovers(root);
    } finally {
      await removeStore(root);
      await execa('rm', ['-rf', ...contexts]);
    }
  });
});

describe('ribo import of hostile and damaged tarballs', () => {
  let root: string;
  let work: string;
  let outside: string;
  beforeAll(async () => {
    root = await makeStore();
    work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-hostile-'));
    // World-writable, so only ribo's checks stand between an archive and this dir.
    outside = path.join(work, 'outside');
    await execa('mkdir', ['-m', '777', outside]);
    await chmod(work, 0o755);
  });
  afterAll(async () => {
    await removeStore(root);
    await rm(work, { recursive: true, force: true });
  });

  /** A tar made with Python's tarfile, which writes whatever names and links it is told to. */
  async function craft(name: string, members: Array<{ name: string; type: 'file' | 'symlink' | 'hardlink' | 'dir'; target?: string }>): Promise<string> {
    const file = path.join(work, `${name}.tar`);
    const script = [
      'import io, json, sys, tarfile',
      'members = json.loads(sys.argv[2])',
      'with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:',
      '    for m in members:',
      '        info = tarfile.TarInfo(m["name"])',
      '        info.type = {"file": tarfile.REGTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE}[m["type"]]',
      '        info.linkname = m.get("target", "")',
      '        data = b"pwned\\n" if m["type"] == "file" else b""',
      '        info.size = len(data)',
      '        tar.addfile(info, io.BytesIO(data))',
    ].join('\n');
    await execa('python3', ['-c', script, file, JSON.stringify(members)]);
    await chmod(file, 0o644);
    return file;
  }

  async function validTar(): Promise<Buffer> {
    return readFile(await craft('valid', [{ name: 'etc', type: 'dir' }, { name: 'etc/data', type: 'file' }, ...Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, type: 'file' as const }))]));
  }

  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['a ../ escape', () => craft('dotdot', [{ name: '../../../../../../../..' + '/tmp/ribo-hostile-dotdot', type: 'file' }]), /Refusing layer entry .*\.\./],
    ['an absolute path', () => craft('absolute', [{ name: '/tmp/ribo-hostile-absolute', type: 'file' }]), /Refusing layer entry/],
    ['a symlink to .. then a write through it', async () => craft('symlink-rel', [{ name: 'evil', type: 'symlink', target: '../'.repeat(20) + outside.slice(1) }, { name: 'evil/pwned', type: 'file' }]), /Refusing layer entry "evil\/pwned"/],
    ['an absolute symlink then a write through it', async () => craft('symlink-abs', [{ name: 'evil', type: 'symlink', target: outside }, { name: 'evil/pwned', type: 'file' }]), /Refusing layer entry "evil\/pwned"/],
    ['a hardlink to a file outside', () => craft('hardlink', [{ name: 'h', type: 'hardlink', target: '../../../../../../etc/passwd' }]), /Refusing layer entry "h \(hardlink target/],
    ['a truncated archive', async () => {
      const file = path.join(work, 'truncated.tar');
      const tar = await validTar();
      await writeFile(file, tar.subarray(0, Math.floor(tar.length / 2) + 100));
      return file;
    }, /truncated/],
    ['corrupt gzip data', async () => {
      const file = path.join(work, 'corrupt.tar.gz');
      const gz = gzipSync(await validTar());
      for (let i = 30; i < 60; i++) gz[i] ^= 0x55;
      await writeFile(file, gz);
      return file;
    }, /corrupt/],
  ];

  it.each(cases)('%s fails cleanly: clear error, nothing outside touched, nothing tagged or stored', async (_name, make, message) => {
    const tarball = await make();
    await chmod(tarball, 0o644);
    const result = await ribo(['import', tarball, 'hostile'], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(new RegExp(`Cannot import ${tarball.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(result.stderr).toMatch(message);
    expect(await entries(outside)).toEqual([]);
    for (const probe of ['/tmp/ribo-hostile-dotdot', '/tmp/ribo-hostile-absolute']) await expect(stat(probe)).rejects.toThrow();
    expect(await expectConsistent(root)).toEqual([]);
    expect(await entries(path.join(root, 'blobs', 'sha256'))).toEqual([]);
    expect(await entries(path.join(root, 'layers'))).toEqual([]);
    await expectNoLeftovers(root);
  });
});
