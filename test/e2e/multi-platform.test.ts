/**
 * Multi-platform images, as the unprivileged e2e user: a build for
 * linux/amd64 and linux/arm64 at once (arm64 RUN steps under QEMU through
 * binfmt_misc), the index it tags, running either platform, pushing the index
 * to a registry that skopeo and podman read back, archives of it, and the
 * error when a platform cannot be emulated.
 *
 * Needs what test/setup/prepare-e2e.sh sets up as root: binfmt_misc mounted
 * with qemu-user-static's entries, and a static arm64 busybox from Debian in
 * /var/tmp/ribo-arm64. Only x86-64 hosts run it (the busyboxes are amd64's and arm64's).
 */
import { execa } from 'execa';
import { access, chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { blobPath, E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';
import { startRegistry, type RunningRegistry } from '../setup/registry.js';
import { validateOci } from '../helpers/oci-schema.js';

const ARM64_BUSYBOX = '/var/tmp/ribo-arm64/busybox';
const BINFMT = '/proc/sys/fs/binfmt_misc';
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

const onAmd64 = process.arch === 'x64' ? describe : describe.skip;

// The "compile" stage runs natively once per target (it reads $TARGETARCH); each target's own
// busybox writes `uname -m` into the image, under QEMU for arm64.
const DOCKERFILE = `FROM --platform=$BUILDPLATFORM scratch AS compile
ARG BUILDARCH
COPY busybox-\${BUILDARCH} /bin/busybox
ARG TARGETARCH
ARG TARGETPLATFORM
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /out && echo \\"for $TARGETPLATFORM ($TARGETARCH), built on $(/bin/busybox uname -m)\\" > /out/app"]

FROM scratch
ARG TARGETARCH
COPY busybox-\${TARGETARCH} /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch"]
COPY --from=compile /out/app /app
ENTRYPOINT ["/bin/busybox"]
CMD ["uname", "-m"]
`;

let root: string;
let context: string;
let work: string;
const opts = () => ({ root, runtime: 'runc' as const });

interface Index {
  mediaType: string;
  manifests: Array<{ mediaType: string; digest: string; platform?: { os: string; architecture: string; variant?: string } }>;
}

async function readJson<T>(digest: string): Promise<T> {
  return JSON.parse(await readFile(blobPath(root, digest), 'utf8')) as T;
}

/** The index.json entry of a tag. */
async function tagEntry(name: string): Promise<{ mediaType: string; digest: string }> {
  const index = JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')) as { manifests: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }> };
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === name);
  if (!entry) throw new Error(`no tag ${name} in ${JSON.stringify(index)}`);
  return entry;
}

/** A file of an image, read from its layer blobs with GNU tar (the last layer that has it wins). */
async function fileInImage(manifestDigest: string, file: string): Promise<string | undefined> {
  const manifest = await readJson<{ layers: Array<{ digest: string }> }>(manifestDigest);
  let content: string | undefined;
  for (const layer of manifest.layers) {
    const listed = await execa('tar', ['-tzf', blobPath(root, layer.digest)]);
    if (!listed.stdout.split('\n').includes(file)) continue;
    content = (await execa('tar', ['-xzOf', blobPath(root, layer.digest), file])).stdout;
  }
  return content;
}

/** Rootless podman as the e2e user (runc, from prepare-e2e's containers.conf), with a store of its own. */
async function podmanAsUser(args: string[]) {
  const home = (await execa('getent', ['passwd', E2E_USER!])).stdout.split(':')[5]!;
  const storage = path.join(work, 'podman');
  return execa('runuser', ['-u', E2E_USER!, '--', 'env', `HOME=${home}`, 'podman', '--root', `${storage}/root`, '--runroot', `${storage}/run`, ...args], { reject: false, cwd: '/' });
}

beforeAll(async () => {
  if (process.arch !== 'x64') return;
  await access(ARM64_BUSYBOX).catch(() => {
    throw new Error(`${ARM64_BUSYBOX} is missing: run test/setup/prepare-e2e.sh as root first (it fetches busybox-static:arm64)`);
  });
  root = await makeStore();
  context = await makeContext({ Dockerfile: DOCKERFILE });
  await copyFile('/bin/busybox', path.join(context, 'busybox-amd64'));
  await copyFile(ARM64_BUSYBOX, path.join(context, 'busybox-arm64'));
  await execa('chmod', ['-R', 'a+rX', context]);
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-platform-'));
  await chmod(work, 0o1777);
}, 60_000);

afterAll(async () => {
  if (!root) return;
  await removeStore(root);
  await rm(context, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true }).catch(() => undefined);
});

onAmd64('ribo build --platform linux/amd64,linux/arm64', () => {
  let index: Index;

  beforeAll(async () => {
    const built = await riboOk(['build', '--progress', 'plain', '-t', 'multi:1', '--platform', 'linux/amd64,linux/arm64', context], opts());
    // Told once which RUN steps run emulated.
    expect(built.stderr.match(/will run under QEMU emulation/g)).toHaveLength(1);
    expect(built.stderr).toMatch(/1 RUN step will run under QEMU emulation.*linux\/arm64 \(1 in stage stage-1\)/);
    // The native stage's steps that do not read the target's ARGs run once and serve both targets.
    const copies = built.stderr.split('\n').filter((line) => line.includes('] ') && line.includes('COPY busybox-${BUILDARCH}'));
    expect(copies).toHaveLength(2);
    expect(copies.filter((line) => line.includes('CACHED'))).toHaveLength(1);
    const entry = await tagEntry('multi:1');
    expect(entry.mediaType).toBe(INDEX_TYPE);
    index = await readJson<Index>(entry.digest);
  }, 300_000);

  test('the tag names an image index with one manifest per platform, each config of its architecture', async () => {
    expect(index.mediaType).toBe(INDEX_TYPE);
    expect(validateOci('index', index)).toEqual([]);
    expect(index.manifests.map((m) => m.platform)).toEqual([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }]);
    for (const entry of index.manifests) {
      const manifest = await readJson<{ config: { digest: string } }>(entry.digest);
      const config = await readJson<{ architecture: string; os: string }>(manifest.config.digest);
      expect({ os: config.os, architecture: config.architecture }).toEqual(entry.platform);
    }
  });

  test("each image holds what its platform's own busybox made, and what the native stage compiled for it", async () => {
    const [amd64, arm64] = index.manifests;
    expect(await fileInImage(amd64!.digest, 'arch')).toBe('x86_64');
    expect(await fileInImage(arm64!.digest, 'arch')).toBe('aarch64');
    // The $BUILDPLATFORM stage ran natively (x86_64) for both targets.
    expect(await fileInImage(amd64!.digest, 'app')).toBe('for linux/amd64 (amd64), built on x86_64');
    expect(await fileInImage(arm64!.digest, 'app')).toBe('for linux/arm64 (arm64), built on x86_64');
  });

  test('ribo run picks the platform: --platform linux/arm64 runs emulated, with one warning; none runs the host\'s', async () => {
    const arm = await riboOk(['run', '--rm', '--platform', 'linux/arm64', 'multi:1'], opts());
    expect(arm.stdout.trim()).toBe('aarch64');
    expect(arm.stderr.match(/QEMU/g)).toHaveLength(1);
    const host = await riboOk(['run', '--rm', 'multi:1'], opts());
    expect(host.stdout.trim()).toBe('x86_64');
    expect(host.stderr).not.toMatch(/QEMU/);
  }, 120_000);

  test('a platform the image lacks is a clear error', async () => {
    const missing = await ribo(['run', '--rm', '--platform', 'linux/ppc64le', 'multi:1'], opts());
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain('has no manifest for linux/ppc64le; it has linux/amd64, linux/arm64');
  });

  test('images shows both platforms; tag and rmi handle the index whole', async () => {
    await riboOk(['tag', 'multi:1', 'multi:copy'], opts());
    expect((await tagEntry('multi:copy')).digest).toBe((await tagEntry('multi:1')).digest);
    const listed = await riboOk(['images'], opts());
    expect(listed.stdout).toMatch(/multi\s+copy\s.*linux\/amd64,linux\/arm64/);
    await riboOk(['rmi', 'multi:copy'], opts());
    expect((await riboOk(['images'], opts())).stdout).not.toMatch(/copy/);
    const inspected = await riboOk(['inspect', '--platform', 'linux/arm64', '-f', '{{.Architecture}}', 'multi:1'], opts());
    expect(inspected.stdout.trim()).toBe('arm64');
  });
});

onAmd64('ribo build --platform linux/arm64 (one foreign platform)', () => {
  test('gives one arm64 image, its RUN steps emulated, that runs emulated without --platform', async () => {
    await riboOk(['build', '-q', '-t', 'arm:1', '--platform', 'linux/arm64', context], opts());
    const entry = await tagEntry('arm:1');
    expect(entry.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const manifest = await readJson<{ config: { digest: string } }>(entry.digest);
    expect((await readJson<{ architecture: string; os: string }>(manifest.config.digest)).architecture).toBe('arm64');
    expect(await fileInImage(entry.digest, 'arch')).toBe('aarch64');
    const run = await riboOk(['run', '--rm', 'arm:1'], opts());
    expect(run.stdout.trim()).toBe('aarch64');
    expect(run.stderr).toContain('is for linux/arm64, this machine is linux/amd64: the container runs under QEMU emulation');
    // Asked for the host's platform, a single arm64 image is the clear error.
    const host = await ribo(['run', '--rm', '--platform', 'linux/amd64', 'arm:1'], opts());
    expect(host.stderr).toContain('has no manifest for linux/amd64; it has linux/arm64');
  }, 300_000);
});

onAmd64('a multi-platform image in a registry', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
    await riboOk(['build', '-q', '-t', 'multi:1', '--platform', 'linux/amd64,linux/arm64', context], opts());
  }, 300_000);
  afterAll(async () => {
    await registry?.stop();
  });

  test('ribo push sends the index and all it lists; skopeo reads it back as an index; podman pulls and runs each platform', async () => {
    const target = `${registry.host}/platform/multi:1`;
    await riboOk(['push', '--tls-verify=false', 'multi:1', target], opts());
    const raw = await execa('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${target}`]);
    const pushed = JSON.parse(raw.stdout) as Index;
    expect(pushed.mediaType).toBe(INDEX_TYPE);
    expect(pushed.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);
    expect(pushed.manifests.map((m) => m.digest)).toEqual((await readJson<Index>((await tagEntry('multi:1')).digest)).manifests.map((m) => m.digest));
    for (const [platform, machine] of [['linux/amd64', 'x86_64'], ['linux/arm64', 'aarch64']] as const) {
      const run = await podmanAsUser(['run', '--rm', '--tls-verify=false', '--pull=always', '--platform', platform, target]);
      if (run.exitCode !== 0) throw new Error(`podman run --platform ${platform} exited ${run.exitCode}\n${run.stderr}`);
      expect(run.stdout.trim()).toBe(machine);
    }
  }, 300_000);

  test('FROM a multi-platform registry image takes each target\'s manifest, pulled for that platform', async () => {
    const base = `${registry.host}/platform/multi:1`;
    await riboOk(['push', '--tls-verify=false', 'multi:1', base], opts());
    const other = await makeStore();
    const dir = await makeContext({ Dockerfile: `FROM ${base}\nRUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch2"]\n` });
    try {
      await riboOk(['build', '-q', '--tls-verify=false', '--platform', 'linux/amd64,linux/arm64', '-t', 'derived:1', dir], { root: other, runtime: 'runc' });
      for (const [platform, machine] of [['linux/amd64', 'x86_64'], ['linux/arm64', 'aarch64']] as const) {
        const run = await riboOk(['run', '--rm', '--platform', platform, 'derived:1', 'cat', '/arch', '/arch2'], { root: other, runtime: 'runc' });
        expect(run.stdout.split('\n').map((l) => l.trim()).filter(Boolean)).toEqual([machine, machine]);
      }
    } finally {
      await removeStore(other);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  test('ribo pull --platform stores the chosen platform', async () => {
    const target = `${registry.host}/platform/multi:1`;
    const other = await makeStore();
    try {
      await riboOk(['pull', '--tls-verify=false', '--platform', 'linux/arm64', target], { root: other });
      const run = await riboOk(['run', '--rm', target], { root: other, runtime: 'runc' });
      expect(run.stdout.trim()).toBe('aarch64');
    } finally {
      await removeStore(other);
    }
  }, 300_000);
});

// Disabling a binfmt_misc entry needs root: only a root test run simulates missing emulation
// (the entry, one nothing else here uses, is enabled again at once; prepare-e2e.sh enables qemu entries too).
const rootOnly = process.arch === 'x64' && process.getuid?.() === 0 ? describe : describe.skip;

rootOnly('emulation that is not there', () => {
  const entry = `${BINFMT}/qemu-s390x`;
  test('a foreign RUN step stops before it runs, naming the disabled binfmt_misc entry and the fix', async () => {
    const dir = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox-amd64 /bin/busybox\nRUN ["/bin/busybox", "true"]\n' });
    await copyFile('/bin/busybox', path.join(dir, 'busybox-amd64'));
    await execa('chmod', ['-R', 'a+rX', dir]);
    // Without the entry at all the same check fails too (naming the packages to install).
    const registered = await access(entry).then(() => true, () => false);
    try {
      if (registered) await writeFile(entry, '0');
      const result = await ribo(['build', '--platform', 'linux/s390x', dir], opts());
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toContain('RUN steps cannot run: they are for linux/s390x and this machine is linux/amd64');
      expect(result.stderr).toContain(registered ? 'is disabled. As root: update-binfmts --enable qemu-s390x' : 'apt-get install qemu-user-static binfmt-support');
      // Nothing ran: the step failed before its container started.
      expect(result.stderr).not.toMatch(/exit code|exited/);
    } finally {
      if (registered) await writeFile(entry, '1');
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

onAmd64('archives and imports of multi-platform images', () => {
  beforeAll(async () => {
    await riboOk(['build', '-q', '-t', 'multi:1', '--platform', 'linux/amd64,linux/arm64', '--output', `type=oci,dest=${work}/built.tar`, context], opts());
  }, 300_000);

  const archived = async (file: string): Promise<Index> => JSON.parse((await execa('skopeo', ['inspect', '--raw', `oci-archive:${file}`])).stdout) as Index;

  test('--output type=oci and save of an oci-archive keep the index whole; load brings back every platform', async () => {
    const index = await readJson<Index>((await tagEntry('multi:1')).digest);
    expect((await archived(`${work}/built.tar`)).manifests.map((m) => m.digest)).toEqual(index.manifests.map((m) => m.digest));
    await riboOk(['save', '-o', `${work}/saved.tar`, 'multi:1'], opts());
    expect((await archived(`${work}/saved.tar`)).manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64']);
    const other = await makeStore();
    try {
      await riboOk(['load', '-i', `${work}/saved.tar`], { root: other });
      expect((await riboOk(['images'], { root: other })).stdout).toMatch(/multi\s+1\s.*linux\/amd64,linux\/arm64/);
      expect((await riboOk(['run', '--rm', '--platform', 'linux/arm64', 'multi:1'], { root: other, runtime: 'runc' })).stdout.trim()).toBe('aarch64');
      expect((await riboOk(['run', '--rm', 'multi:1'], { root: other, runtime: 'runc' })).stdout.trim()).toBe('x86_64');
    } finally {
      await removeStore(other);
    }
  }, 300_000);

  test('a docker-archive holds one platform: --platform chooses it', async () => {
    await riboOk(['save', '--format', 'docker-archive', '--platform', 'linux/arm64', '-o', `${work}/arm64.tar`, 'multi:1'], opts());
    const other = await makeStore();
    try {
      await riboOk(['load', '-i', `${work}/arm64.tar`], { root: other });
      const config = JSON.parse((await riboOk(['inspect', '-f', '{{json .ImageConfig}}', 'multi:1'], { root: other })).stdout) as { architecture: string };
      expect(config.architecture).toBe('arm64');
      expect((await riboOk(['run', '--rm', 'multi:1'], { root: other, runtime: 'runc' })).stdout.trim()).toBe('aarch64');
    } finally {
      await removeStore(other);
    }
  }, 300_000);

  test('import --platform adds a rootfs of that platform beside the others under one name', async () => {
    for (const [arch, busybox] of [['arm64', ARM64_BUSYBOX], ['amd64', '/bin/busybox']] as const) {
      const dir = path.join(work, `rootfs-${arch}`);
      await execa('mkdir', ['-p', path.join(dir, 'bin')]);
      await copyFile(busybox, path.join(dir, 'bin', 'busybox'));
      await execa('tar', ['-cf', `${dir}.tar`, '-C', dir, '.']);
      await execa('chmod', ['a+r', `${dir}.tar`]);
      await riboOk(['import', '--platform', `linux/${arch}`, `${dir}.tar`, 'imported:1'], opts());
    }
    expect((await riboOk(['images'], opts())).stdout).toMatch(/imported\s+1\s.*linux\/arm64,linux\/amd64/);
    for (const [platform, machine] of [['linux/arm64', 'aarch64'], ['linux/amd64', 'x86_64']] as const) {
      const run = await riboOk(['run', '--rm', '--platform', platform, 'imported:1', '/bin/busybox', 'uname', '-m'], opts());
      expect(run.stdout.trim()).toBe(machine);
    }
  }, 300_000);
});
