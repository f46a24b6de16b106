import {
  canonicalRef,
  comparableName,
  familiarName,
  familiarRef,
  InvalidImageRefError,
  normalizeImageRef,
  parseImageRef,
} from '../../src/oci/reference.js';
import { resolveStoreRoot } from '../../src/store/index.js';
import { UsageError } from '../../src/errors.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('image references, read as docker reads them', () => {
  // input, registry, repository, tag, digest, familiar form
  it.each([
    ['ubuntu', 'docker.io', 'library/ubuntu', 'latest', undefined, 'ubuntu:latest'],
    ['library/ubuntu', 'docker.io', 'library/ubuntu', 'latest', undefined, 'ubuntu:latest'],
    ['docker.io/ubuntu', 'docker.io', 'library/ubuntu', 'latest', undefined, 'ubuntu:latest'],
    ['docker.io/library/ubuntu:22.04', 'docker.io', 'library/ubuntu', '22.04', undefined, 'ubuntu:22.04'],
    ['index.docker.io/library/ubuntu', 'docker.io', 'library/ubuntu', 'latest', undefined, 'ubuntu:latest'],
    ['user/app', 'docker.io', 'user/app', 'latest', undefined, 'user/app:latest'],
    ['docker.io/user/app:1', 'docker.io', 'user/app', '1', undefined, 'user/app:1'],
    ['docker.io/library/a/b', 'docker.io', 'library/a/b', 'latest', undefined, 'library/a/b:latest'],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, 'localhost/app:latest'],
    ['localhost:5000/a', 'localhost:5000', 'a', 'latest', undefined, 'localhost:5000/a:latest'],
    ['a:5000/b', 'a:5000', 'b', 'latest', undefined, 'a:5000/b:latest'],
    ['a/b:5000', 'docker.io', 'a/b', '5000', undefined, 'a/b:5000'],
    ['localhost:5000', 'docker.io', 'library/localhost', '5000', undefined, 'localhost:5000'],
    ['host.Com/x', 'host.Com', 'x', 'latest', undefined, 'host.Com/x:latest'],
    ['quay.io/org/app', 'quay.io', 'org/app', 'latest', undefined, 'quay.io/org/app:latest'],
    ['127.0.0.1:5000/app', '127.0.0.1:5000', 'app', 'latest', undefined, '127.0.0.1:5000/app:latest'],
    ['[::1]:5000/app:x', '[::1]:5000', 'app', 'x', undefined, '[::1]:5000/app:x'],
    ['registry.example.com/a.b/c__d/e-f---g:V_1.2-rc', 'registry.example.com', 'a.b/c__d/e-f---g', 'V_1.2-rc', undefined, 'registry.example.com/a.b/c__d/e-f---g:V_1.2-rc'],
    [`app@${DIGEST}`, 'docker.io', 'library/app', undefined, DIGEST, `app@${DIGEST}`],
    [`ghcr.io/org/app:1@${DIGEST}`, 'ghcr.io', 'org/app', '1', DIGEST, `ghcr.io/org/app:1@${DIGEST}`],
  ])('%s', (input, registry, repository, tag, digest, familiar) => {
    const ref = parseImageRef(input);
    expect(ref).toEqual({ registry, repository, tag, ...(digest ? { digest } : {}) });
    expect(familiarRef(ref)).toBe(familiar);
    // The familiar form reads back as the same reference.
    expect(parseImageRef(familiar)).toEqual(ref);
  });

  it('spells one Docker Hub image five ways and a local one two ways', () => {
    const names = ['ubuntu', 'ubuntu:latest', 'library/ubuntu', 'docker.io/ubuntu', 'docker.io/library/ubuntu:latest', 'index.docker.io/library/ubuntu'];
    expect(new Set(names.map((name) => comparableName(name)))).toEqual(new Set(['docker.io/library/ubuntu:latest']));
    expect(new Set(names.map((name) => normalizeImageRef(name)))).toEqual(new Set(['ubuntu:latest']));
    expect(comparableName('docker.io/library/x')).toBe(comparableName('x'));
    expect(comparableName('localhost/x')).not.toBe(comparableName('x'));
    expect(canonicalRef(parseImageRef('user/app:2'))).toBe('docker.io/user/app:2');
    expect(familiarName(parseImageRef('docker.io/library/alpine:3'))).toBe('alpine');
  });

  it.each([
    ['', /empty/],
    ['UPPER/x', /repository "UPPER\/x" must be lower-case/],
    ['Hello', /"Hello" must be lower-case/],
    ['docker.io/Library/ubuntu', /"Library\/ubuntu" must be lower-case/],
    ['host.com/X', /"X" must be lower-case/],
    ['app:', /tag ""/],
    ['app:.x', /tag ".x"/],
    ['app:-x', /tag "-x"/],
    [`app:${'t'.repeat(129)}`, /tag/],
    ['a//b', /empty path component/],
    ['localhost:5000/', /names no repository/],
    ['-app', /"-app"/],
    ['app_', /"app_"/],
    ['a/b c', /"b c"/],
    ['bad_host.com/app', /"bad_host.com" is not a valid registry host/],
    ['host:port/app', /"host:port" is not a valid registry host/],
    ['app@sha256:123', /digest "sha256:123"/],
    [`app@md5:${'a'.repeat(64)}`, /digest/],
    [`app@sha256:${'A'.repeat(64)}`, /digest/],
    ['a'.repeat(64), /64 hexadecimal digits/],
    [`${'a'.repeat(245)}:x`, /"docker.io\/library\/a+" is longer than 255/],
    [`quay.io/${'a'.repeat(248)}`, /longer than 255/],
  ])('refuses %j', (input, reason) => {
    let caught: unknown;
    try {
      parseImageRef(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidImageRefError);
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toContain(`"${input}" is not a valid image reference`);
    expect((caught as Error).message).toMatch(reason);
  });

  it('accepts names up to 255 characters in full', () => {
    expect(parseImageRef(`quay.io/${'a'.repeat(247)}`).repository).toHaveLength(247);
    expect(parseImageRef(`${'a'.repeat(237)}:x`).repository).toHaveLength(245);
    expect(() => parseImageRef('a'.repeat(238))).toThrow(/longer than 255/);
  });

  it('tags in the familiar form and refuses a digest as a tag', () => {
    expect(normalizeImageRef('hello')).toBe('hello:latest');
    expect(normalizeImageRef('docker.io/library/hello:1.0')).toBe('hello:1.0');
    expect(normalizeImageRef('localhost:5000/team/app')).toBe('localhost:5000/team/app:latest');
    expect(() => normalizeImageRef(`app@${DIGEST}`)).toThrow(/cannot be used as a tag/);
    expect(comparableName('Not A Name')).toBeUndefined();
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
