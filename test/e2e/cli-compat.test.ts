/**
 * The CLI as a docker or podman user types it, as an unprivileged user: the
 * columns and words of `ribo images`, image ids that every command takes,
 * --format templates, management-command spellings, version output, and
 * usage errors that name the flag or command.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { blobPath, makeContext, makeStore, readImage, removeStore, ribo, riboOk, PROJECT_ROOT } from './harness.js';

let root: string;
let context: string;
const opts = (env: Record<string, string> = {}) => ({ root, env });
const THREE_DAYS_AGO = Math.floor(Date.now() / 1000) - 3 * 24 * 3600 - 600;

/** The rows of a table as cells (columns are separated by two spaces or more). */
function table(stdout: string): string[][] {
  return stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
}

/** The unpacked size as docker prints it (three significant digits), computed from the layer blobs on disk. */
async function unpackedSize(image: Awaited<ReturnType<typeof readImage>>): Promise<string> {
  let total = 0;
  for (const layer of image.manifest.layers) total += gunzipSync(await readFile(blobPath(root, layer.digest))).length;
  const units = ['B', 'kB', 'MB', 'GB'];
  let unit = 0;
  while (total >= 1000) [total, unit] = [total / 1000, unit + 1];
  return `${Number(total.toPrecision(3))}${units[unit]}`;
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({}, 'hello');
  await riboOk(['build', '-t', 'hello:latest', context], opts());
  // A second image with a label, and a creation time that is not 1970.
  await riboOk(['build', '-t', 'dated:1', '-f', '-', context], { ...opts({ SOURCE_DATE_EPOCH: String(THREE_DAYS_AGO) }), input: 'FROM hello\nLABEL team=blue\n' });
}, 300_000);

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

describe('ribo images', () => {
  it('shows docker\'s columns: the config digest as IMAGE ID, CREATED in words, the unpacked SIZE', async () => {
    const hello = await readImage(root, 'hello:latest');
    const dated = await readImage(root, 'dated:1');
    expect(hello.config.created).toMatch(/^1970-01-01T/);
    const rows = table((await riboOk(['images'], opts())).stdout);
    expect(rows[0]).toEqual(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']);
    // Newest first: hello's time is when the store got it (its config says 1970), dated's is three days ago.
    expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual([
      ['hello', 'latest', hello.manifest.config.digest.slice(7, 19)],
      ['dated', '1', dated.manifest.config.digest.slice(7, 19)],
    ]);
    expect(rows[1]![3]).toMatch(/^(Less than a second|1 second|\d+ seconds|About a minute|\d+ minutes) ago$/);
    expect(rows[2]![3]).toBe('3 days ago');
    expect(rows[1]![4]).toBe(await unpackedSize(hello));
    // The arrival time is beside the index entry, not in the image.
    const entry = hello.index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'hello:latest')!;
    expect(Date.now() - Date.parse(entry.annotations!['dev.ribo.store.received']!)).toBeLessThan(3600_000);
  });

  it('has -q, --digests, --no-trunc, a name argument and --filter', async () => {
    const hello = await readImage(root, 'hello:latest');
    const entry = hello.index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'hello:latest')!;
    expect((await riboOk(['images', '-q', 'hello'], opts())).stdout).toBe(hello.manifest.config.digest.slice(7, 19));
    const full = table((await riboOk(['images', '--digests', '--no-trunc', 'hello'], opts())).stdout);
    expect(full[0]).toEqual(['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']);
    expect(full[1]!.slice(0, 4)).toEqual(['hello', 'latest', entry.digest, hello.manifest.config.digest]);
    const names = async (...args: string[]) => (await riboOk(['images', '--format', '{{.Repository}}:{{.Tag}}', ...args], opts())).stdout.trim().split('\n').filter(Boolean);
    expect(await names('--filter', 'label=team=blue')).toEqual(['dated:1']);
    expect(await names('--filter', 'reference=hel*')).toEqual(['hello:latest']);
    expect(await names('--filter', 'before=hello')).toEqual(['dated:1']);
    expect(await names('--filter', 'since=dated:1')).toEqual(['hello:latest']);
    expect(await names('dated')).toEqual(['dated:1']);
    expect(await names('--filter', 'dangling=true')).toEqual([]);
    const bad = await ribo(['images', '--filter', 'size=1'], opts());
    expect([bad.exitCode, bad.stderr.trim()]).toEqual([2, 'ribo: error: --filter size=1: ribo images knows dangling=, reference=, before=, since=, label=.']);
  });

  it('formats with Go templates: table, json, range', async () => {
    const hello = await readImage(root, 'hello:latest');
    const custom = table((await riboOk(['images', '--format', 'table {{.Repository}}\\t{{.ID}}'], opts())).stdout);
    expect(custom).toEqual([['REPOSITORY', 'IMAGE ID'], ['hello', hello.manifest.config.digest.slice(7, 19)], ['dated', expect.any(String)]]);
    const objects = (await riboOk(['images', '--format', '{{json .}}'], opts())).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(objects[0]).toMatchObject({ Repository: 'hello', Tag: 'latest', ID: hello.manifest.config.digest.slice(7, 19), Size: await unpackedSize(hello) });
    expect((await riboOk(['images', '--format', 'json', 'dated'], opts())).stdout).toMatch(/^\{"Containers":"N\/A","CreatedAt":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC","CreatedSince":"3 days ago"/);
    const [inspected] = JSON.parse((await riboOk(['inspect', 'dated:1'], opts())).stdout);
    const labels = await riboOk(['inspect', '--format', '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}} {{range .RepoTags}}[{{.}}]{{end}} {{len .RootFS.Layers}}', 'dated:1'], opts());
    expect(labels.stdout.trim()).toBe(`team=blue; [dated:1] ${inspected.RootFS.Layers.length}`);
    const broken = await ribo(['inspect', '--format', '{{range .RepoTags}}', 'hello'], opts());
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toContain('{{range}} has no {{end}}');
  });
});

describe('image ids', () => {
  it('are taken by run, tag, inspect, history and rmi, whole or as a prefix, as config or manifest digest', async () => {
    const hello = await readImage(root, 'hello:latest');
    const id = (await riboOk(['images', '-q', 'hello'], opts())).stdout.trim();
    const [byId] = JSON.parse((await riboOk(['inspect', id], opts())).stdout);
    expect(byId.Id).toBe(hello.manifest.config.digest);
    expect(byId.Id.slice(7, 19)).toBe(id);
    expect(byId.RepoDigests).toEqual([`hello@${byId.Digest}`]);
    for (const spelling of [id.slice(0, 6), hello.manifest.config.digest, `sha256:${id}`, byId.Digest.slice(7, 19)]) {
      expect((await riboOk(['inspect', '--format', '{{.Id}}', spelling], opts())).stdout.trim()).toBe(hello.manifest.config.digest);
    }
    expect((await riboOk(['run', '--rm', id, 'cat', '/app/greeting.txt'], opts())).stdout).toBe((await readFile(path.join(PROJECT_ROOT, 'fixtures/hello/greeting.txt'), 'utf8')).trimEnd());
    expect((await riboOk(['history', id], opts())).stdout).toContain('COPY busybox /bin/busybox');
    expect((await riboOk(['history', '--format', '{{.ID}}|{{.CreatedBy}}', id], opts())).stdout).toMatch(/^[0-9a-f]{12}\|COPY busybox \/bin\/busybox/m);
    await riboOk(['tag', id.slice(0, 8), 'byid:1'], opts());
    expect((await readImage(root, 'byid:1')).manifest).toEqual(hello.manifest);
    expect((await riboOk(['rmi', hello.manifest.config.digest.slice(0, 15)], opts())).stdout.split('\n').filter(Boolean).sort()).toEqual(['Untagged: byid:1', 'Untagged: hello:latest']);
    // Untagged but still in the store until prune: listed with -a, and still found by its id.
    expect(table((await riboOk(['images', '-a', '--filter', 'dangling=true'], opts())).stdout)[1]!.slice(0, 3)).toEqual(['<none>', '<none>', id]);
    await riboOk(['tag', id, 'hello:latest'], opts());
    expect((await riboOk(['images', '-q', 'hello'], opts())).stdout.trim()).toBe(id);
  }, 120_000);

  it('refuses a prefix two images share, naming both', async () => {
    // 17 images have 17 manifest digests: two of them share a first hex digit.
    const manifests: string[] = [];
    for (let i = 0; i < 17; i++) {
      await riboOk(['build', '-q', '-t', `many:${i}`, '-'], { ...opts(), input: `FROM hello\nLABEL n=${i}\n` });
      manifests.push(JSON.parse((await riboOk(['inspect', `many:${i}`], opts())).stdout)[0].Digest as string);
    }
    const first = manifests.map((d) => d[7]!).find((c, i, all) => all.indexOf(c) !== i)!;
    const result = await ribo(['inspect', '--type', 'image', `sha256:${first}`], opts());
    expect(result.exitCode).toBe(1);
    for (const digest of manifests.filter((d) => d[7] === first)) expect(result.stderr).toContain(digest);
    expect(result.stderr).toMatch(/matches \d+ images/);
    await riboOk(['rmi', ...manifests.map((_, i) => `many:${i}`)], opts());
  }, 300_000);
});

describe('management commands, ps --format, version', () => {
  it('take docker\'s spellings as aliases', async () => {
    expect(table((await riboOk(['image', 'ls', 'hello'], opts())).stdout)[1]!.slice(0, 3)).toEqual(table((await riboOk(['images', 'hello'], opts())).stdout)[1]!.slice(0, 3));
    await riboOk(['image', 'tag', 'hello', 'alias:1'], opts());
    expect(JSON.parse((await riboOk(['image', 'inspect', 'alias:1'], opts())).stdout)[0].RepoTags).toEqual(['alias:1', 'hello:latest']);
    expect((await riboOk(['image', 'history', 'alias:1'], opts())).stdout).toContain('COPY busybox');
    expect((await riboOk(['image', 'rm', 'alias:1'], opts())).stdout).toBe('Untagged: alias:1');
    await riboOk(['container', 'run', '--name', 'compat-ps', 'hello', 'echo', '--device'], opts());
    expect((await riboOk(['container', 'logs', 'compat-ps'], opts())).stdout).toBe('--device');
    expect((await riboOk(['container', 'ls', '-a', '--format', '{{.Names}} {{.State}} {{.Status}}'], opts())).stdout).toMatch(/^compat-ps exited Exited \(0\) .* ago$/m);
    expect(table((await riboOk(['ps', '-a', '--format', 'table {{.Names}}\\t{{.Image}}'], opts())).stdout)).toEqual([['NAMES', 'IMAGE'], ['compat-ps', 'hello']]);
    expect(JSON.parse((await riboOk(['container', 'inspect', 'compat-ps'], opts())).stdout)[0].Name).toBe('/compat-ps');
    await riboOk(['container', 'rm', 'compat-ps'], opts());
    expect((await riboOk(['ps', '-a', '-q'], opts())).stdout).toBe('');
    expect((await riboOk(['builder', 'prune', '--dry-run'], opts())).exitCode).toBe(0);
    const unknown = await ribo(['image', 'frob'], opts());
    expect([unknown.exitCode, unknown.stderr]).toEqual([2, expect.stringMatching(/ribo image has no subcommand "frob"; it has ls, .*\. See `ribo image --help`\.$/)]);
  }, 120_000);

  it('print ribo\'s version, and the runtimes\'', async () => {
    const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await riboOk(['--version'], opts())).stdout).toBe(`ribo version ${pkg.version}`);
    const version = (await riboOk(['version'], opts())).stdout;
    expect(version).toContain(`Version:        ${pkg.version}`);
    expect(version).toContain(`Node version:   ${process.version}`);
    const crun = (await execa('crun', ['--version'])).stdout.match(/version (\S+)/)![1];
    expect(version).toContain(`crun:           ${crun}`);
    expect((await riboOk(['version', '--format', '{{.Version}} {{.Runtimes.crun}}'], opts())).stdout).toBe(`${pkg.version} ${crun}`);
  });
});

describe('flags given twice, as docker takes them', () => {
  it('a flag of one value keeps the last; a repeatable one keeps all, each taking one word', async () => {
    // --cap-drop keeps these runs on the Node path (no run plan covers it).
    const run = (flags: string[], command: string) => riboOk(['run', '--rm', '--cap-drop', 'ALL', ...flags, 'hello', 'sh', '-c', command], opts());
    expect((await run(['-w', '/a', '-w', '/b', '--hostname', 'h1', '--hostname', 'h2', '-u', '1', '-u', '2'], 'echo $(pwd) $(hostname) $(id -u)')).stdout).toBe('/b h2 2');
    expect((await run(['--name', 'twice-a', '--name', 'twice-b', '--network', 'host', '--network', 'none'], 'ls /sys/class/net')).stdout).toBe('lo');
    expect((await run(['-e', 'A=1', '--env', 'B=2', '-e', 'A=3'], 'echo $A$B')).stdout).toBe('32');
    // Short flags with their values attached, as docker takes them.
    expect((await run(['-eA=4', '-e=B=5', '-u1', '-w/tmp'], 'echo $A$B $(id -u) $(pwd)')).stdout).toBe('45 1 /tmp');
    // -t takes one word each time: "." is the context, not a third tag.
    await riboOk(['build', '-q', '-t', 'twice:a', '-t', 'twice:b', '--label', 'x=1', '--label', 'y=2', '-f', '-', '.'], { ...opts(), cwd: context, input: 'FROM hello\n' });
    const labels = JSON.parse((await riboOk(['inspect', '-f', '{{json .Config.Labels}}', 'twice:b'], opts())).stdout);
    expect(labels).toMatchObject({ x: '1', y: '2' });
    expect((await riboOk(['images', '-q', 'twice:a'], opts())).stdout).toBe((await riboOk(['images', '-q', 'twice:b'], opts())).stdout);
  });
});

describe('usage errors', () => {
  const error = async (...args: string[]) => {
    const result = await ribo(args, opts());
    expect(result.exitCode).toBe(2);
    return result.stderr.trim();
  };

  it('name an unknown flag once, as typed, with a full stop before the help hint', async () => {
    expect(await error('run', '--gpus', 'all', 'hello')).toBe("ribo: error: ribo run has no flag --gpus: docker's --gpus is not implemented (see docs/unsupported.md). See `ribo run --help`.");
    expect(await error('run', '-d', '--log-opt', 'max-size=1m', 'hello', 'true')).toMatch(/^ribo: error: ribo run has no flag --log-opt: docker's --log-opt is not implemented \(see docs\/unsupported\.md\)\. See `ribo run --help`\.$/);
    expect(await error('run', '--blkio-weight=300', 'hello')).toMatch(/has no flag --blkio-weight: docker's/);
    const build = await error('build', '--blkio-weight', '5', context);
    expect(build.match(/blkio/gi)).toHaveLength(1);
    expect(await error('images', '--bogus')).toBe('ribo: error: ribo images has no flag --bogus (docs/cli.md lists the flags ribo supports). See `ribo images --help`.');
    expect(await error('run', '--net', 'host', 'hello')).toBe('ribo: error: ribo run has no flag --net; ribo calls it --network. See `ribo run --help`.');
    expect(await error('run', '--detahc', 'hello')).toMatch(/has no flag --detahc\. Did you mean --detach\? See `ribo run --help`\.$/);
    expect(await error('tag', 'hello')).toBe('ribo: error: ribo tag needs more arguments: ribo tag <source> <target>. See `ribo tag --help`.');
  });

  it('suggest another command only for a close spelling', async () => {
    expect(await error('top')).toBe('ribo: error: ribo has no "top" command (docker has one; ribo does not implement it). See `ribo --help`.');
    expect(await error('stats')).not.toMatch(/start|Did you mean/);
    expect(await error('bogus')).toBe('ribo: error: ribo has no "bogus" command. See `ribo --help`.');
    expect(await error('stpo', 'x')).toBe('ribo: error: ribo has no "stpo" command. Did you mean "stop"? See `ribo --help`.');
    expect(await error('imgaes')).toMatch(/Did you mean "images"\?/);
  });
});

describe('history as docker shows it', () => {
  it('shows CREATED in words; -H=false gives RFC 3339 times and bytes; -q the layer ids', async () => {
    const dated = await readImage(root, 'dated:1');
    const rows = table((await riboOk(['history', 'dated:1'], opts())).stdout);
    expect(rows[0]).toEqual(['LAYER', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
    // The LABEL step was made three days ago; hello's steps say 1970, which docker also shows as years ago.
    const label = dated.config.history.at(-1)!.created_by as string;
    expect(label).toMatch(/^LABEL team=blue/);
    expect(rows[1]!.slice(0, 3)).toEqual(['<empty layer>', '3 days ago', label]);
    expect(rows.at(-1)![1]).toMatch(/^\d{2} years ago$/);
    const base = dated.manifest.layers[0]!;
    for (const flag of ['-H=false', '--human=false']) {
      const plain = table((await riboOk(['history', flag, 'dated:1'], opts())).stdout);
      expect(plain[1]![1]).toBe(new Date(THREE_DAYS_AGO * 1000).toISOString().replace(/\.000Z$/, 'Z'));
      const [id, created, createdBy, size] = plain.at(-1)!;
      expect([id, created, size]).toEqual([base.digest.slice(7, 19), '1970-01-01T00:00:00Z', String((base as { size?: number }).size)]);
      expect(createdBy).toMatch(/^COPY busybox \/bin\/busybox/);
    }
    const quiet = (await riboOk(['history', '-q', 'dated:1'], opts())).stdout.split('\n');
    expect(quiet).toHaveLength(dated.config.history.length);
    expect(quiet[0]).toBe('<missing>');
    expect(quiet.filter((id) => id !== '<missing>')).toEqual(dated.manifest.layers.map((l) => l.digest.slice(7, 19)).reverse());
    expect((await riboOk(['history', '-q', '--no-trunc', 'dated:1'], opts())).stdout.split('\n').at(-1)).toBe(base.digest);
    expect((await riboOk(['history', '--format', '{{.CreatedSince}}|{{.CreatedBy}}', 'dated:1'], opts())).stdout.split('\n')[0]).toBe(`3 days ago|${label}`);
  });
});

describe('ids printed, untagged images, prune', () => {
  let own: string;
  const mine = (input?: string) => ({ root: own, ...(input === undefined ? {} : { input }) });
  const untaggedRows = async (...args: string[]) => table((await riboOk(['images', ...args], mine())).stdout).slice(1).filter((row) => row[0] === '<none>').map((row) => row.slice(0, 3));
  beforeAll(async () => {
    own = await makeStore();
  });
  afterAll(() => removeStore(own));

  it('build, load and import print the image id (the config digest), as docker does', async () => {
    const iidfile = path.join(own, 'iid');
    const built = await riboOk(['build', '-t', 'ids:1', '--iidfile', iidfile, '--progress=plain', context], mine());
    const image = await readImage(own, 'ids:1');
    expect(built.stdout).toBe(image.manifest.config.digest);
    expect(await readFile(iidfile, 'utf8')).toBe(image.manifest.config.digest);
    expect(built.stderr).toContain(`Built ${image.manifest.config.digest} in `);
    // Saved by id, the archive names no image: loaded elsewhere it is listed as <none> and told by its id.
    const archive = path.join(own, 'untagged.tar');
    await riboOk(['save', '-o', archive, image.manifest.config.digest.slice(7, 19)], mine());
    const other = await makeStore();
    try {
      expect((await riboOk(['load', '-i', archive], { root: other })).stdout).toBe(`Loaded image ID: ${image.manifest.config.digest}`);
      expect(table((await riboOk(['images'], { root: other })).stdout).slice(1).map((row) => row.slice(0, 3))).toEqual([['<none>', '<none>', image.manifest.config.digest.slice(7, 19)]]);
      expect((await riboOk(['load', '-q', '-i', archive], { root: other })).stdout).toBe(image.manifest.config.digest);
    } finally {
      await removeStore(other);
    }
    const rootfs = path.join(own, 'rootfs.tar');
    await execa('tar', ['-cf', rootfs, '-C', context, 'busybox']);
    await execa('chmod', ['644', rootfs]);
    const imported = await riboOk(['import', rootfs, 'imported:1'], mine());
    expect(imported.stdout).toBe((await readImage(own, 'imported:1')).manifest.config.digest);
    // "-": the tarball from stdin, as docker import reads it; the same layer, and nothing left in the store's tmp.
    const fromStdin = await ribo(['import', '-', 'imported:2'], { root: own, input: await readFile(rootfs) });
    expect(fromStdin.exitCode).toBe(0);
    expect(fromStdin.stderr).toContain('Imported stdin as imported:2');
    expect((await readImage(own, 'imported:2')).manifest.layers).toEqual((await readImage(own, 'imported:1')).manifest.layers);
    expect((await riboOk(['run', '--rm', 'imported:2', '/busybox', 'echo', 'from-stdin'], mine())).stdout).toBe('from-stdin');
    expect(await readdir(path.join(own, 'tmp'))).toEqual([]);
  }, 180_000);

  it('lists an image whose tag moved on, or built without a name, as <none> without -a; rmi by id and prune remove it', async () => {
    const first = (await riboOk(['build', '-q', '-t', 'moving:1', '-f', '-', context], mine('FROM ids:1\nLABEL v=1\n'))).stdout;
    const second = (await riboOk(['build', '-q', '-t', 'moving:1', '-f', '-', context], mine('FROM ids:1\nLABEL v=2\n'))).stdout;
    expect(await untaggedRows()).toEqual([['<none>', '<none>', first.slice(7, 19)]]);
    expect((await riboOk(['images', '-q', '--filter', 'dangling=true'], mine())).stdout).toBe(first.slice(7, 19));
    expect((await riboOk(['images', '-q', '--filter', 'dangling=false', 'moving'], mine())).stdout).toBe(second.slice(7, 19));
    expect((await riboOk(['rmi', first.slice(7, 19)], mine())).stdout).toBe(`Deleted: ${first}`);
    expect(await untaggedRows()).toEqual([]);

    const unnamed = (await riboOk(['build', '-q', '-f', '-', context], mine('FROM ids:1\nCOPY greeting.txt /unnamed.txt\n'))).stdout;
    expect(await untaggedRows()).toEqual([['<none>', '<none>', unnamed.slice(7, 19)]]);
    const diffIDs = JSON.parse((await riboOk(['inspect', '--format', '{{json .RootFS.Layers}}', unnamed], mine())).stdout) as string[];
    const ownLayer = diffIDs.at(-1)!.slice(7);
    // `ribo images` measured the unpacked size of its layers, kept in layer-sizes/.
    const sizes = async () => (await execa('ls', [path.join(own, 'layer-sizes')])).stdout.split('\n');
    expect(await sizes()).toContain(ownLayer);
    const pruned = await riboOk(['image', 'prune'], mine());
    expect(pruned.stdout).toContain(`Deleted untagged image ${unnamed}\n`);
    expect(pruned.stdout).toMatch(/: 1 untagged images, \d+ blobs/);
    expect(await untaggedRows('-a')).toEqual([]);
    expect((await ribo(['inspect', unnamed], mine())).exitCode).toBe(1);
    // The build cache kept the layer (and its size) until --all forgets the cache.
    expect(await sizes()).toContain(ownLayer);
    await riboOk(['prune', '--all'], mine());
    expect(await sizes()).not.toContain(ownLayer);
    expect((await riboOk(['run', '--rm', 'moving:1', 'cat', '/app/greeting.txt'], mine())).exitCode).toBe(0);
  }, 300_000);
});
