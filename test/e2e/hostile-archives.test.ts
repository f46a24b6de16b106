/**
 * The path-escape archives of `ribo import`'s hostile set (store-integrity.test.ts)
 * through the other ways in: as a layer of an image loaded with `ribo load`,
 * pulled from a local registry with `ribo pull`, and as a local archive that
 * a Dockerfile ADDs. Also an image whose layer holds a setuid-root program
 * and a world-writable dir, which no other local user may reach once ribo has
 * unpacked it, and an OCI layout whose JSON documents are malformed. Each is
 * refused with a clear error (never an internal one) or handled as docker
 * does, and nothing is written outside.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk, type RiboResult } from './harness.js';
import { startRegistry, type RunningRegistry } from '../setup/registry.js';

/** One tar member; a file's content is "pwned" and a newline unless `content` names a file to take it from. */
interface Member { name: string; type: 'file' | 'symlink' | 'hardlink' | 'dir'; target?: string; mode?: number; content?: string }

let work: string;
let outside: string;
let registry: RunningRegistry;
const stores: string[] = [];
const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);
const PROBES = ['/tmp/ribo-hostile-archives-dotdot', '/tmp/ribo-hostile-archives-absolute'];

async function store(): Promise<string> {
  const dir = await makeStore();
  stores.push(dir);
  return dir;
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A tar made with Python's tarfile, which writes whatever names, links and modes it is told to. */
async function craft(name: string, members: Member[]): Promise<string> {
  const file = path.join(work, `${name}.tar`);
  const script = [
    'import io, json, sys, tarfile',
    'with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:',
    '    for m in json.loads(sys.argv[2]):',
    '        info = tarfile.TarInfo(m["name"])',
    '        info.type = {"file": tarfile.REGTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE}[m["type"]]',
    '        info.linkname = m.get("target", "")',
    '        info.mode = m.get("mode", 0o755 if m["type"] == "dir" else 0o644)',
    '        data = open(m["content"], "rb").read() if "content" in m else (b"pwned\\n" if m["type"] == "file" else b"")',
    '        info.size = len(data)',
    '        tar.addfile(info, io.BytesIO(data))',
  ].join('\n');
  await execa('python3', ['-c', script, file, JSON.stringify(members)]);
  await chmod(file, 0o644);
  return file;
}

/** An OCI layout of one image whose single layer is `layerTar` (plain tar: its digest is its diffID). */
async function layout(name: string, layerTar: string, documents: { index?: string; manifest?: string; config?: string } = {}): Promise<string> {
  const dir = path.join(work, `${name}.layout`);
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (data: Buffer | string) => {
    const digest = sha256(data);
    await writeFile(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layer = await put(await readFile(layerTar));
  const config = await put(documents.config ?? JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/busybox', 'true'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
  const manifest = await put(documents.manifest ?? JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  }));
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(dir, 'index.json'), documents.index ?? JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': name } }],
  }));
  await execa('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

/** A clear refusal: exit 1 (not 70, ribo's internal error), a message, and no stack trace. */
function expectClearRefusal(result: RiboResult, message: RegExp): void {
  expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 1, stderr: expect.stringMatching(message) });
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
}

async function expectNothingOutside(): Promise<void> {
  expect(await entries(outside)).toEqual([]);
  for (const probe of PROBES) await expect(stat(probe)).rejects.toThrow();
}

const escapes = (): Array<[string, Member[]]> => [
  ['a ../ escape', [{ name: '../../../../../../../..' + PROBES[0], type: 'file' }]],
  ['an absolute path', [{ name: PROBES[1]!, type: 'file' }]],
  ['a symlink to .. then a write through it', [{ name: 'evil', type: 'symlink', target: '../'.repeat(20) + outside.slice(1) }, { name: 'evil/pwned', type: 'file' }]],
  ['an absolute symlink then a write through it', [{ name: 'evil', type: 'symlink', target: outside }, { name: 'evil/pwned', type: 'file' }]],
  ['a hardlink to a file outside', [{ name: 'h', type: 'hardlink', target: '../../../../../../etc/passwd' }]],
];
const escapeNames = ['a ../ escape', 'an absolute path', 'a symlink to .. then a write through it', 'an absolute symlink then a write through it', 'a hardlink to a file outside'];
const escapeCase = (name: string) => escapes().find(([n]) => n === name)![1];
const slug = (name: string) => name.replace(/[^a-z]+/g, '-');

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-hostile-archives-'));
  await chmod(work, 0o755);
  // World-writable, so only ribo's checks stand between an archive and this dir.
  outside = path.join(work, 'outside');
  await execa('mkdir', ['-m', '777', outside]);
  registry = await startRegistry();
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  for (const dir of stores) await removeStore(dir);
  await rm(work, { recursive: true, force: true });
});

describe('path escapes in a layer', () => {
  it.each(escapeNames)('%s: `ribo load` then `ribo run` refuse it, nothing written outside', async (name) => {
    const root = await store();
    const image = await layout(`load-${slug(name)}`, await craft(`load-${slug(name)}`, escapeCase(name)));
    const loaded = await ribo(['load', '-i', image], { root });
    // The layer is checked when ribo unpacks it: at load, or at the first run.
    const refused = loaded.exitCode === 0 ? await ribo(['run', '--rm', `load-${slug(name)}`], { root }) : loaded;
    expectClearRefusal(refused, /Refusing layer entry/);
    await expectNothingOutside();
    expect(await entries(path.join(root, 'layers'))).toEqual([]);
  }, 120_000);

  it.each(escapeNames)('%s: `ribo pull` then `ribo run` refuse it, nothing written outside', async (name) => {
    const root = await store();
    const image = await layout(`pull-${slug(name)}`, await craft(`pull-${slug(name)}`, escapeCase(name)));
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${image}:pull-${slug(name)}`, `docker://${registry.host}/hostile/${slug(name)}:1`]);
    const pulled = await ribo(['pull', `${registry.host}/hostile/${slug(name)}:1`], { root });
    const refused = pulled.exitCode === 0 ? await ribo(['run', '--rm', `${registry.host}/hostile/${slug(name)}:1`], { root }) : pulled;
    expectClearRefusal(refused, /Refusing layer entry/);
    await expectNothingOutside();
    expect(await entries(path.join(root, 'layers'))).toEqual([]);
  }, 120_000);
});

describe('path escapes in an archive that ADD unpacks', () => {
  // Docker's ADD refuses ../ names and hardlinks out of the destination, puts
  // absolute names below it, and resolves symlinks inside the image's root.
  // Where the file lands in the image (`outside` is known once beforeAll ran).
  const expected = (name: string): string => ({
    'a ../ escape': 'refused',
    'an absolute path': `/dest${PROBES[1]}`,
    'a symlink to .. then a write through it': `${outside}/pwned`,
    'an absolute symlink then a write through it': `${outside}/pwned`,
    'a hardlink to a file outside': 'refused',
  } as Record<string, string>)[name]!;

  it.each(escapeNames)('%s: refused or kept inside the image, nothing written outside', async (name) => {
    const root = await store();
    const context = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nADD hostile.tar /dest/\n' }, 'hello');
    try {
      await execa('cp', [await craft(`add-${slug(name)}`, escapeCase(name)), path.join(context, 'hostile.tar')]);
      await chmod(path.join(context, 'hostile.tar'), 0o644);
      const built = await ribo(['build', '-t', `add-${slug(name)}`, context], { root });
      await expectNothingOutside();
      if (expected(name) === 'refused') {
        expectClearRefusal(built, /hostile\.tar/);
        return;
      }
      expect({ exitCode: built.exitCode, stderr: built.exitCode === 0 ? '' : built.stderr }).toEqual({ exitCode: 0, stderr: '' });
      const inImage = await riboOk(['run', '--rm', `add-${slug(name)}`, '/bin/busybox', 'cat', expected(name)], { root });
      expect(inImage.stdout).toBe('pwned');
    } finally {
      await rm(context, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('a setuid-root program and a world-writable dir in a layer', () => {
  const other = E2E_USER ? `${E2E_USER}-nosubid` : undefined;
  const asOther = (command: string) => execa('runuser', ['-u', other!, '--', 'sh', '-c', command], { reject: false });

  (other && process.getuid?.() === 0 ? it : it.skip)('cannot be reached by another local user once unpacked, even when the store was 0755', async () => {
    const root = await store();
    await chmod(root, 0o755);
    const busybox = path.join(PROJECT_ROOT, 'fixtures/hello/busybox');
    const tar = await craft('setuid', [
      { name: 'bin', type: 'dir' },
      { name: 'bin/busybox', type: 'file', mode: 0o755, content: busybox },
      { name: 'bin/suid', type: 'file', mode: 0o4755, content: busybox },
      { name: 'tmp', type: 'dir', mode: 0o1777 },
    ]);
    await riboOk(['load', '-i', await layout('setuid', tar)], { root });
    // The container sees the image as it is: setuid bit and sticky world-writable /tmp.
    const inside = await riboOk(['run', '--rm', 'setuid', '/bin/busybox', 'stat', '-c', '%a %n', '/bin/suid', '/tmp'], { root });
    expect(inside.stdout.trim().split('\n')).toEqual(['4755 /bin/suid', '1777 /tmp']);
    expect(((await stat(root)).mode & 0o777).toString(8)).toBe('700');
    const [layer] = await entries(path.join(root, 'layers'));
    expect(layer).toBeDefined();
    const layerDir = path.join(root, 'layers', layer!);
    const tried = await asOther(`ls ${root}; ${layerDir}/bin/suid true && echo ran-suid; touch ${layerDir}/tmp/planted && echo planted; echo done`);
    expect(tried.stdout.trim()).toBe('done');
    expect(tried.stderr).toMatch(/Permission denied/);
  }, 180_000);
});

describe('malformed JSON in an OCI layout', () => {
  it.each([
    ['index.json', { index: '{"schemaVersion": 2, "manifests": [' }, /index\.json/],
    ['the manifest', { manifest: '{"schemaVersion": 2, "config": ' }, /manifest|sha256:/],
    ['the config', { config: '{"rootfs": {"diff_ids": [}' }, /config|sha256:/],
    ['a manifest that is JSON but no manifest', { manifest: '[1, 2, 3]' }, /manifest|sha256:/],
  ] as const)('%s: `ribo load` refuses it with a clear error, nothing tagged', async (_what, documents, message) => {
    const root = await store();
    const tar = await craft(`json-${slug(_what)}`, [{ name: 'f', type: 'file' }]);
    const image = await layout(`json-${slug(_what)}`, tar, documents);
    const loaded = await ribo(['load', '-i', image], { root });
    // Loaded or not, nothing may be usable from it and no error may be internal.
    if (loaded.exitCode === 0) {
      const used = await ribo(['run', '--rm', `json-${slug(_what)}`], { root });
      expectClearRefusal(used, message);
    } else {
      expectClearRefusal(loaded, message);
      expect((await riboOk(['images', '-q'], { root })).stdout.trim()).toBe('');
    }
  }, 120_000);
});
