import { assertConfigLimits, CONFIG_LIMITS } from '../../src/store/config-limits.js';

describe('assertConfigLimits', () => {
  const where = 'app:1 in layout';

  it('accepts a config as real images have it', () => {
    expect(() => assertConfigLimits({ config: { Env: ['PATH=/usr/bin', 'A=1'], Labels: { a: 'b' } }, history: [{ created_by: 'x' }] }, where)).not.toThrow();
    expect(() => assertConfigLimits({ config: { Env: Array(CONFIG_LIMITS.envEntries).fill('A=1') } }, where)).not.toThrow();
  });

  it('refuses too many or too long Env entries, naming the image and the limit', () => {
    expect(() => assertConfigLimits({ config: { Env: Array(CONFIG_LIMITS.envEntries + 1).fill('A=1') } }, where)).toThrow(`app:1 in layout: the image config has 10001 Env entries; ribo accepts at most 10000 entries`);
    expect(() => assertConfigLimits({ config: { Env: [`BIG=${'x'.repeat(200 * 1024)}`] } }, where)).toThrow(/has an Env entry "BIG=x+…" of 204804 bytes; ribo accepts at most 131072 bytes/);
  });

  it('refuses too many or too long labels', () => {
    const labels = Object.fromEntries(Array.from({ length: CONFIG_LIMITS.labels + 1 }, (_, i) => [`l${i}`, '']));
    expect(() => assertConfigLimits({ config: { Labels: labels } }, where)).toThrow(/has 10001 Labels/);
    expect(() => assertConfigLimits({ config: { Labels: { big: 'x'.repeat(CONFIG_LIMITS.labelBytes) } } }, where)).toThrow(/has a label "big" of 1048579 bytes/);
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    const deep = JSON.parse(`{"config":{},"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    expect(() => assertConfigLimits(deep, where)).toThrow(/nests arrays or objects more than 100 levels deep/);
    let fine: unknown = 1;
    for (let i = 0; i < CONFIG_LIMITS.depth - 1; i++) fine = [fine];
    expect(() => assertConfigLimits({ x: fine }, where)).not.toThrow();
  });
});
