/**
 * A step rebuilt because an earlier one changed often makes the same layer
 * again: ribo then reuses the blob it made last time instead of compressing it
 * anew. What a user checks: the layer is the same blob, and a step whose output
 * did change gets a new layer with the new files, never the old one.
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blobPath, listLayer, makeContext, makeStore, readImage, removeStore, riboOk } from './harness.js';

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
COPY input.txt /input.txt
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /out && /bin/busybox echo same > /out/same"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox cat /input.txt > /copy"]
`;

let root: string;
let context: string;

async function build(...extra: string[]): Promise<{ layers: string[]; diffIDs: string[] }> {
  await riboOk(['build', '-t', 'reuse', ...extra, context], { root });
  const image = await readImage(root, 'reuse:latest');
  return { layers: image.manifest.layers.map((l) => l.digest), diffIDs: image.config.rootfs.diff_ids };
}

async function cat(file: string): Promise<string> {
  return (await riboOk(['run', '--rm', 'reuse', '/bin/busybox', 'cat', file], { root })).stdout;
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({ Dockerfile: DOCKERFILE, 'input.txt': 'one\n' }, 'hello');
});

afterAll(async () => {
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

it('reuses the blob of a rebuilt step that made the same files, and makes a new one where they changed', async () => {
  const first = await build();
  await writeFile(path.join(context, 'input.txt'), 'two\n');
  const second = await build();
  // COPY input.txt changed; the RUN after it wrote the same file again.
  expect(second.layers[1]).not.toBe(first.layers[1]);
  expect(second.layers[2]).toBe(first.layers[2]);
  expect(second.diffIDs[2]).toBe(first.diffIDs[2]);
  expect((await listLayer(blobPath(root, second.layers[2]!))).map((e) => e.path)).toEqual(['out/', 'out/same']);
  // The last RUN has the same instruction but read other content: a new layer.
  expect(second.layers[3]).not.toBe(first.layers[3]);
  expect(await cat('/copy')).toBe('two');

  await writeFile(path.join(context, 'input.txt'), 'three\n');
  const third = await build();
  expect(third.layers[2]).toBe(first.layers[2]);
  expect(new Set([first.layers[3], second.layers[3], third.layers[3]]).size).toBe(3);
  expect(await cat('/copy')).toBe('three');
  expect(await cat('/out/same')).toBe('same');
});

it('gives the image an empty store would give, with --no-cache too', async () => {
  const here = await build('--no-cache');
  const other = await makeStore();
  try {
    await riboOk(['build', '-t', 'reuse', context], { root: other });
    const image = await readImage(other, 'reuse:latest');
    expect(here.layers).toEqual(image.manifest.layers.map((l) => l.digest));
  } finally {
    await removeStore(other);
  }
});
