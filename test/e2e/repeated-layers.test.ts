/**
 * Images that hold the same layer more than once (issue 13): steps that change
 * nothing each make an identical empty layer, and COPY of the same file again
 * makes the layer it made before. The image keeps every layer and history
 * entry, as BuildKit and docker do; only the mounted stack holds each layer
 * once (its top-most occurrence). Checked with every storage driver, in
 * builds, `ribo run` (through Node and through a run plan), `run -d`, `exec`
 * and `cp`.
 */
import { execa } from 'execa';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeContext, makeStore, readImage, removeStore, ribo, riboOk, type DriverName, type RiboOptions } from './harness.js';

/** The Dockerfile of the issue: the third RUN's stack had the empty layer twice. */
const REPEATED = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\nRUN echo one\nRUN echo two\nRUN echo three\n';

/**
 * Layers A (COPY f, COPY d into the existing /d), then B replacing /f and /d
 * (an opaque or re-made dir hiding /d/zero), then A again: the top A must win
 * over B (/f from the context, /d holding one and two, as docker's COPY into an
 * existing dir gives), which keeping the bottom A instead would break.
 */
const NON_ADJACENT = 'FROM repeated\nRUN mkdir /d && echo zero > /d/zero\nCOPY f /f\nCOPY d /d/\n' +
  'RUN echo b > /f && rm -rf /d && mkdir /d && echo two > /d/two\nCOPY f /f\nCOPY d /d/\n';
const ABA_FILES = ['sh', '-c', 'cat /f; ls /d; cat /d/one /d/two'];
const ABA_EXPECTED = 'from the context\none\ntwo\none\ntwo';

let context: string;
const roots: string[] = [];

beforeAll(async () => {
  context = await makeContext({ 'Dockerfile.repeated': REPEATED, 'Dockerfile.aba': NON_ADJACENT, f: 'from the context\n', 'd/one': 'one\n' });
  await execa('cp', ['/bin/busybox', context]);
  await execa('chmod', ['a+rx', path.join(context, 'busybox')]);
});

afterAll(async () => {
  for (const root of roots) {
    const left = await ribo(['ps', '-a', '-q'], { root });
    for (const id of left.stdout.split('\n').filter(Boolean)) await ribo(['rm', '-f', id], { root });
    await removeStore(root);
  }
  await execa('rm', ['-rf', context]);
});

async function build(opts: RiboOptions): Promise<void> {
  await riboOk(['build', '-f', path.join(context, 'Dockerfile.repeated'), '-t', 'repeated', context], opts);
  await riboOk(['build', '-f', path.join(context, 'Dockerfile.aba'), '-t', 'aba', context], opts);
}

describe.each(['overlay', 'fuse-overlayfs', 'copy'] as DriverName[])('an image with repeated layers, with the %s driver', (driver) => {
  let root: string;
  const opts = (): RiboOptions => ({ root, driver });

  beforeAll(async () => {
    root = await makeStore();
    roots.push(root);
    await build(opts());
  }, 300_000);

  it('keeps a layer and a history entry for every step', async () => {
    const { manifest, config } = await readImage(root, 'repeated:latest');
    expect(manifest.layers).toHaveLength(5);
    expect(config.rootfs.diff_ids).toHaveLength(5);
    expect(config.history).toHaveLength(5);
    expect(config.history.some((entry: { empty_layer?: boolean }) => entry.empty_layer)).toBe(false);
    const [, , one, two, three] = config.rootfs.diff_ids as string[];
    expect(two).toBe(one);
    expect(three).toBe(one);

    // In aba, the COPY layers come back after the RUN between them.
    const aba = (await readImage(root, 'aba:latest')).config.rootfs.diff_ids as string[];
    expect(aba).toHaveLength(11);
    expect(aba.slice(9)).toEqual(aba.slice(6, 8));
    expect(new Set(aba.slice(5, 9)).size).toBe(4);
  });

  it('runs the image, with the top-most of each repeated layer in effect', async () => {
    expect((await riboOk(['run', '--rm', 'repeated', 'echo', 'ran'], opts())).stdout).toBe('ran');
    expect((await riboOk(['run', '--rm', 'aba', ...ABA_FILES], opts())).stdout).toBe(ABA_EXPECTED);
  });

  it('runs one detached, execs in it and copies files out of it', async () => {
    await riboOk(['run', '-d', '--name', 'aba-d', 'aba', 'sleep', '60'], opts());
    const out = await makeStore();
    try {
      expect((await riboOk(['exec', 'aba-d', ...ABA_FILES], opts())).stdout).toBe(ABA_EXPECTED);
      // ribo cp refuses containers of the copying driver (src/run/copy-files.ts), repeated layers or not.
      if (driver !== 'copy') {
        await riboOk(['cp', 'aba-d:/d', `${out}/`], opts());
        await riboOk(['cp', 'aba-d:/f', `${out}/f`], opts());
        expect((await readdir(path.join(out, 'd'))).sort()).toEqual(['one', 'two']);
        expect(await readFile(path.join(out, 'f'), 'utf8')).toBe('from the context\n');
      }
    } finally {
      await removeStore(out);
      await ribo(['rm', '-f', 'aba-d'], opts());
    }
  });
});

describe('a planned run of an image with repeated layers', () => {
  it('mounts each layer once', async () => {
    const root = await makeStore();
    roots.push(root);
    await build({ root });
    for (const image of ['repeated', 'aba']) {
      const first = await riboOk(['run', '--rm', image, 'sh', '-c', 'ls /d /f 2>/dev/null; echo ran'], { root });
      const planFile = path.join(root, 'run-plans', 'crun', `${image}.plan`);
      const plan = await readFile(planFile, 'utf8');
      // The plan's mount, as the snapshotter described it: its lowerdir option lists the layers.
      const options = /^plan_mount_options='([^']*)'$/m.exec(plan)![1]!;
      const lowers = /(?:^|,)lowerdir=([^,]*)/.exec(options)![1]!.split(':');
      expect(lowers).toHaveLength(image === 'repeated' ? 3 : 7);
      expect(new Set(lowers).size).toBe(lowers.length);
      // The second run is the plan's (a run through Node would write the plan again), and sees the same.
      const written = (await stat(planFile)).mtimeMs;
      expect(await riboOk(['run', '--rm', image, 'sh', '-c', 'ls /d /f 2>/dev/null; echo ran'], { root })).toEqual(first);
      expect((await stat(planFile)).mtimeMs).toBe(written);
    }
    expect((await riboOk(['run', '--rm', 'aba', ...ABA_FILES], { root })).stdout).toBe(ABA_EXPECTED);
  }, 120_000);
});
