import { containerMappings, keepIdMappings, namespaceId } from '../../src/runtime/bundle.js';
import { outsideIdOfRoot } from '../../src/runtime/keep-id.js';

describe('--userns keep-id id mappings', () => {
  it('maps the caller\'s uid to ribo\'s 0, the ids below it one up, the ids above it as they are', () => {
    const mappings = keepIdMappings(65536, 1001);
    expect(mappings).toEqual([
      { containerID: 0, hostID: 1, size: 1001 },
      { containerID: 1001, hostID: 0, size: 1 },
      { containerID: 1002, hostID: 1002, size: 64534 },
    ]);
    // Every id of ribo's namespace is used exactly once.
    expect(mappings.reduce((sum, m) => sum + m.size, 0)).toBe(65536);
    expect([0, 1000, 1001, 1002, 65535].map((id) => namespaceId(mappings, id))).toEqual([1, 1001, 0, 1002, 65535]);
    expect(namespaceId(mappings, 65536)).toBeUndefined();
  });

  it('leaves the usual one-to-one mapping when keep-id is not asked for', () => {
    const { uid } = containerMappings({ idCount: 65536 });
    expect([0, 1000].map((id) => namespaceId(uid, id))).toEqual([0, 1000]);
  });

  it('finds the caller\'s id in /proc/self/uid_map', () => {
    expect(outsideIdOfRoot('         0       1001          1\n         1     100000      65536\n')).toBe(1001);
    expect(outsideIdOfRoot('         1     100000      65536\n')).toBeUndefined();
  });
});
