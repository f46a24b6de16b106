/**
 * Front-end behaviour that follows docker/BuildKit, checked in the built
 * image's layers (read with GNU tar): .dockerignore exceptions and the ignore
 * files BuildKit looks for, Dockerfiles read from stdin, and platforms (a base
 * image must exist for the platform asked for; the automatic platform ARGs;
 * multi-platform builds themselves are in multi-platform.test.ts).
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blobPath, listLayer, makeContext, makeStore, readImage, removeStore, ribo, riboOk } from './harness.js';

let root: string;
const contexts: string[] = [];

async function context(files: Record<string, string>, fixture?: string): Promise<string> {
  const dir = await makeContext(files, fixture);
  contexts.push(dir);
  return dir;
}

/** Every path the image's layers hold (no layer here deletes anything), without "./" and trailing "/". */
async function imagePaths(ref: string): Promise<Set<string>> {
  const image = await readImage(root, ref);
  const paths = new Set<string>();
  for (const layer of image.manifest.layers) {
    for (const entry of await listLayer(blobPath(root, layer.digest))) paths.add(entry.path.replace(/^\.\//, '').replace(/\/$/, ''));
  }
  return paths;
}

/** A file's content in the image: the topmost layer that has it. */
async function imageFile(ref: string, file: string): Promise<string> {
  const image = await readImage(root, ref);
  for (const layer of [...image.manifest.layers].reverse()) {
    const blob = blobPath(root, layer.digest);
    const names = (await listLayer(blob)).map((e) => e.path);
    const name = names.find((n) => n.replace(/^\.\//, '') === file);
    if (name) return (await execa('tar', ['-xzOf', blob, name])).stdout;
  }
  throw new Error(`${file} is not in ${ref}`);
}

function expectPaths(paths: Set<string>, present: string[], absent: string[]): void {
  expect(present.filter((p) => !paths.has(p))).toEqual([]);
  expect(absent.filter((p) => paths.has(p))).toEqual([]);
}

const HOST_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
const hostArch = HOST_ARCH[process.arch] ?? process.arch;
const hostPlatform = `linux/${hostArch}`;
const otherPlatform = hostArch === 'arm64' ? 'linux/amd64' : 'linux/arm64';

beforeAll(async () => {
  root = await makeStore();
});

afterAll(async () => {
  await removeStore(root);
  if (contexts.length > 0) await execa('rm', ['-rf', ...contexts]);
});

describe('.dockerignore exceptions (moby patternmatcher, BuildKit context)', () => {
  let ctx: string;

  beforeAll(async () => {
    ctx = await context({
      '.dockerignore': 'other.txt\n',
      Dockerfile: 'FROM scratch\nCOPY . /all/\n',
      'folder1/file1': '1\n',
      'folder1/file2': '2\n',
      'folder1/sub/deep': 'd\n',
      'other.txt': 'o\n',
      'stuff/huge/usr/bin/ls': 'ls\n',
      'stuff/huge/usr/lib/libc.so': 'libc\n',
      'stuff/huge/top.txt': 'top\n',
      'stuff/small.txt': 'small\n',
      'a/x': 'x\n', 'a/b/y': 'y\n', 'a/b/c/z': 'z\n', 'a/b/c/d/w': 'w\n', 'a/b/c/d/e/f': 'f\n',
      // -f build/exc.Dockerfile reads build/exc.Dockerfile.dockerignore, not .dockerignore.
      'build/exc.Dockerfile': 'FROM scratch\nCOPY . /all/\nCOPY folder1 /f1/\n',
      'build/exc.Dockerfile.dockerignore': '**\n!folder1/file1\n',
      'huge.Dockerfile': 'FROM scratch\nCOPY stuff /s/\n',
      'huge.Dockerfile.dockerignore': 'stuff/huge/*\n!stuff/huge/usr/bin/*\n',
      'alt.Dockerfile': 'FROM scratch\nCOPY a /n/\n',
      'alt.Dockerfile.dockerignore': 'a\n!a/b\na/b/c\n!a/b/c/d\na/b/c/d/e\n',
    });
  });

  it('the context .dockerignore applies without a Dockerfile-specific one', async () => {
    await riboOk(['build', '-q', '-t', 'ign-plain', ctx], { root });
    expectPaths(await imagePaths('ign-plain:latest'), ['all/folder1/file1', 'all/stuff/small.txt', 'all/a/b/c/d/e/f'], ['all/other.txt']);
  });

  it('** then !folder1/file1 keeps folder1 with only file1, for COPY . and COPY folder1', async () => {
    await riboOk(['build', '-q', '-t', 'ign-exc', '-f', path.join(ctx, 'build/exc.Dockerfile'), ctx], { root });
    const paths = await imagePaths('ign-exc:latest');
    expectPaths(paths, ['all/folder1', 'all/folder1/file1', 'f1/file1'],
      ['all/folder1/file2', 'all/folder1/sub', 'all/other.txt', 'all/stuff', 'all/Dockerfile', 'all/a', 'f1/file2', 'f1/sub']);
    expect(await imageFile('ign-exc:latest', 'f1/file1')).toBe('1');
  });

  it('stuff/huge/* then !stuff/huge/usr/bin/* keeps stuff/huge/usr/bin/…', async () => {
    await riboOk(['build', '-q', '-t', 'ign-huge', '-f', path.join(ctx, 'huge.Dockerfile'), ctx], { root });
    expectPaths(await imagePaths('ign-huge:latest'), ['s/huge/usr/bin/ls', 's/small.txt'], ['s/huge/usr/lib', 's/huge/usr/lib/libc.so', 's/huge/top.txt']);
  });

  it('alternating exclude/include lines several levels deep: the last matching line decides', async () => {
    await riboOk(['build', '-q', '-t', 'ign-alt', '-f', path.join(ctx, 'alt.Dockerfile'), ctx], { root });
    expectPaths(await imagePaths('ign-alt:latest'), ['n/b/y', 'n/b/c/d/w'], ['n/x', 'n/b/c/z', 'n/b/c/d/e', 'n/b/c/d/e/f']);
  });

  it('.containerignore is read when there is no .dockerignore; .dockerignore wins when both exist', async () => {
    const dir = await context({ Dockerfile: 'FROM scratch\nCOPY . /c/\n', '.containerignore': 'secret.txt\n', 'secret.txt': 's\n', 'kept.txt': 'k\n' });
    await riboOk(['build', '-q', '-t', 'ign-ci', dir], { root });
    expectPaths(await imagePaths('ign-ci:latest'), ['c/kept.txt'], ['c/secret.txt']);
    await writeFile(path.join(dir, '.dockerignore'), 'kept.txt\n');
    await execa('chmod', ['a+r', path.join(dir, '.dockerignore')]);
    await riboOk(['build', '-q', '-t', 'ign-both', dir], { root });
    expectPaths(await imagePaths('ign-both:latest'), ['c/secret.txt'], ['c/kept.txt']);
  });
});

describe('Dockerfile from stdin', () => {
  it('ribo build - builds the Dockerfile on stdin with no context', async () => {
    const input = 'FROM scratch\nCOPY <<EOF /hello.txt\nfrom stdin\nEOF\n';
    await riboOk(['build', '-q', '-t', 'stdin-plain', '-'], { root, input });
    expect(await imageFile('stdin-plain:latest', 'hello.txt')).toBe('from stdin');
  });

  it('ribo build - with a COPY from the context fails, naming the line and the fix', async () => {
    const result = await ribo(['build', '-t', 'stdin-copy', '-'], { root, input: 'FROM scratch\nCOPY a.txt /a.txt\n' });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/<stdin>:2: COPY source "a.txt" reads from the build context, and this build has none/);
    expect(result.stderr).toContain('ribo build -f - .');
  });

  it('ribo build -f - DIR reads the Dockerfile from stdin and the files from DIR (with its .dockerignore)', async () => {
    const dir = await context({ 'a.txt': 'a\n', 'b.txt': 'b\n', '.dockerignore': 'b.txt\n', Dockerfile: 'FROM scratch\nCOPY <<EOF /wrong.txt\nnot this one\nEOF\n' });
    await riboOk(['build', '-q', '-t', 'stdin-file', '-f', '-', dir], { root, input: 'FROM scratch\nCOPY . /ctx/\n' });
    expectPaths(await imagePaths('stdin-file:latest'), ['ctx/a.txt', 'ctx/Dockerfile'], ['ctx/b.txt', 'wrong.txt']);
  });

  it('a tar archive on stdin is a clear error, not a Dockerfile', async () => {
    const dir = await context({ Dockerfile: 'FROM scratch\n' });
    const { stdout } = await execa('tar', ['-cf', '-', '-C', dir, '.'], { encoding: 'buffer' });
    const result = await ribo(['build', '-t', 'stdin-tar', '-'], { root, input: Buffer.from(stdout) });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/stdin holds an archive.*not supported yet/);
  });
});

describe('platforms', () => {
  let ctx: string;

  beforeAll(async () => {
    ctx = await context({ 'base.Dockerfile': 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' }, 'hello');
    await riboOk(['build', '-q', '-t', `plat-base-${hostArch}`, '-f', path.join(ctx, 'base.Dockerfile'), ctx], { root });
  });

  it('FROM --platform naming a platform the base image lacks is an error naming the Dockerfile and line', async () => {
    await writeFile(path.join(ctx, 'other.Dockerfile'), `FROM plat-base-${hostArch}\nRUN true\n\nFROM --platform=${otherPlatform} plat-base-${hostArch}\nRUN true\n`);
    await execa('chmod', ['a+r', path.join(ctx, 'other.Dockerfile')]);
    const result = await ribo(['build', '-t', 'plat-other', '-f', path.join(ctx, 'other.Dockerfile'), ctx], { root });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(ctx, 'other.Dockerfile')}:4: Image "plat-base-${hostArch}" has no manifest for ${otherPlatform}; it has ${hostPlatform}`);
  });

  it('ribo build --platform takes platforms as BuildKit spells them, each once', async () => {
    const twice = await ribo(['build', '--platform', `${hostPlatform},${hostArch === 'amd64' ? 'linux/x86_64' : hostPlatform}`, ctx], { root });
    expect(twice.exitCode).not.toBe(0);
    expect(twice.stderr).toContain(`--platform names ${hostPlatform} twice`);
    const bad = await ribo(['build', '--platform', 'linux//v7', ctx], { root });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--platform linux//v7: give OS/ARCH[/VARIANT]');
    await riboOk(['build', '-q', '--platform', hostPlatform, '-t', 'plat-flag', '-f', path.join(ctx, 'base.Dockerfile'), ctx], { root });
  });

  it('the platform ARGs: automatic in FROM, in a stage only after ARG NAME', async () => {
    const dockerfile = [
      `FROM --platform=$BUILDPLATFORM plat-base-$BUILDARCH AS build`,
      `FROM --platform=${hostPlatform} plat-base-$TARGETARCH`,
      'RUN echo "[$TARGETPLATFORM]" > /before',
      'ARG TARGETPLATFORM',
      'ARG TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT',
      'RUN echo "$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT|$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT" > /p',
      'COPY --from=build /bin/busybox /from-build-stage',
      '',
    ].join('\n');
    await riboOk(['build', '-q', '-t', 'plat-args', '-f', '-', ctx], { root, input: dockerfile });
    expect(await imageFile('plat-args:latest', 'before')).toBe('[]');
    expect(await imageFile('plat-args:latest', 'p')).toBe(`${hostPlatform}|linux|${hostArch}||${hostPlatform}|linux|${hostArch}|`);
    const image = await readImage(root, 'plat-args:latest');
    expect(image.config.architecture).toBe(hostArch);
  });
});
