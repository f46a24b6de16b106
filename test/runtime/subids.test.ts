import { freeSubordinateRange, parseSubordinateRanges } from '../../src/runtime/subids.js';

describe('freeSubordinateRange', () => {
  it('offers 100000 on when nothing is taken', () => {
    expect(freeSubordinateRange(['', ''])).toEqual({ start: 100000, count: 65536 });
  });

  it('skips every range of either file, whoever owns it, and comments', () => {
    const subuid = 'alice:100000:65536\n# bob:165536:65536\n';
    const subgid = 'carol:165536:1000\nalice:100000:65536\n';
    const free = freeSubordinateRange([subuid, subgid]);
    expect(free.start).toBe(166536);
    for (const text of [subuid, subgid]) {
      for (const owner of ['alice', 'carol']) {
        for (const r of parseSubordinateRanges(text, owner, -1)) expect(free.start >= r.start + r.count || free.start + free.count <= r.start).toBe(true);
      }
    }
  });

  it('uses a gap between ranges when it is big enough, not one that is too small', () => {
    const taken = 'a:100000:1000\nb:101000:70000\nc:300000:65536\n';
    expect(freeSubordinateRange([taken]).start).toBe(171000);
    expect(freeSubordinateRange(['a:200000:10\n', 'b:100000:65536\n']).start).toBe(200010);
  });
});
