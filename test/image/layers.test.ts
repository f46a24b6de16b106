import type { Digest } from '../../src/oci/image.js';
import { lowerDirs, type LayerRef } from '../../src/image/layers.js';
import { uniqueLowers } from '../../src/snapshot/index.js';

const layer = (name: string): LayerRef => ({
  descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${name}` as Digest, size: 1 },
  diffID: `sha256:${name}` as Digest,
  dir: `/store/layers/${name}`,
});

describe('lowerDirs', () => {
  it('lists the layers top-most first', () => {
    expect(lowerDirs([layer('a'), layer('b'), layer('c')])).toEqual(['/store/layers/c', '/store/layers/b', '/store/layers/a']);
  });
});

describe('uniqueLowers', () => {
  it('keeps only the top-most occurrence of a repeated layer, adjacent or not', () => {
    // Bottom-most first: base, empty, empty, A, B, A, empty.
    const stack = ['base', 'empty', 'empty', 'a', 'b', 'a', 'empty'].map(layer);
    expect(uniqueLowers(lowerDirs(stack))).toEqual(['/store/layers/empty', '/store/layers/a', '/store/layers/b', '/store/layers/base']);
  });
});
