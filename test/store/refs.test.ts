import { InvalidImageRefError, normalizeImageRef, resolveStoreRoot } from '../../src/store/index.js';
import { UsageError } from '../../src/errors.js';

describe('normalizeImageRef', () => {
  it.each([
    ['hello', 'hello:latest'],
    ['hello:1.0', 'hello:1.0'],
    ['localhost/debian:bookworm', 'localhost/debian:bookworm'],
    ['localhost:5000/team/app', 'localhost:5000/team/app:latest'],
    ['registry.example.com/a.b/c__d/e-f---g:V_1.2-rc', 'registry.example.com/a.b/c__d/e-f---g:V_1.2-rc'],
    ['Registry.Example.com/app:x', 'Registry.Example.com/app:x'],
    ['[::1]:5000/app:x', '[::1]:5000/app:x'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeImageRef(input)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['Hello', /"Hello"/],
    ['app:', /tag ""/],
    ['app:.x', /tag ".x"/],
    [`app:${'t'.repeat(129)}`, /tag/],
    ['a//b', /empty path component/],
    ['app@sha256:' + 'a'.repeat(64), /digest/],
    ['-app', /"-app"/],
    ['app_', /"app_"/],
    ['bad_host.com/app', /registry host/],
    [`${'a'.repeat(256)}:x`, /longer than 255/],
  ])('rejects %s', (input, reason) => {
    let caught: unknown;
    try {
      normalizeImageRef(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidImageRefError);
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toMatch(reason);
  });
});

describe('resolveStoreRoot', () => {
  const home = '/home/someone';
  it('prefers the flag, then RIBO_ROOT, then XDG_DATA_HOME, then ~/.local/share', () => {
    const env = { RIBO_ROOT: '/env/root', XDG_DATA_HOME: '/xdg' };
    expect(resolveStoreRoot({ flag: '/flag/root', env, home })).toBe('/flag/root');
    expect(resolveStoreRoot({ env, home })).toBe('/env/root');
    expect(resolveStoreRoot({ env: { XDG_DATA_HOME: '/xdg' }, home })).toBe('/xdg/ribo');
    expect(resolveStoreRoot({ env: {}, home })).toBe('/home/someone/.local/share/ribo');
  });

  it('ignores a relative XDG_DATA_HOME and resolves a relative flag against the cwd', () => {
    expect(resolveStoreRoot({ env: { XDG_DATA_HOME: 'rel' }, home })).toBe('/home/someone/.local/share/ribo');
    expect(resolveStoreRoot({ flag: 'store', env: {}, home })).toBe(`${process.cwd()}/store`);
  });
});
