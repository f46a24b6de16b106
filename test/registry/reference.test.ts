import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isLoopbackRegistry, registryOfLoginArg } from '../../src/registry/reference.js';
import { parseChallenge } from '../../src/registry/client.js';
import { parsePlatform, selectPlatform } from '../../src/registry/pull.js';
import { CredentialStore } from '../../src/registry/credentials.js';
import type { Descriptor } from '../../src/oci/image.js';

describe('registry names', () => {
  it('allows plain http without asking only on loopback', () => {
    expect(isLoopbackRegistry('localhost:5000')).toBe(true);
    expect(isLoopbackRegistry('127.0.0.1:41234')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('registry.example.com')).toBe(false);
    expect(isLoopbackRegistry('localhost.example.com:5000')).toBe(false);
    expect(registryOfLoginArg('https://index.docker.io/v1/')).toBe('docker.io');
  });
});

describe('WWW-Authenticate challenges', () => {
  it('reads Bearer realm, service and scope', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', params: { realm: 'x' } });
    expect(parseChallenge('Negotiate')).toBeNull();
  });
});

describe('platform selection from an index', () => {
  const entry = (architecture: string, variant?: string, os = 'linux'): Descriptor => ({ mediaType: 'm', digest: `${architecture}${variant ?? ''}`, size: 1, platform: { os, architecture, ...(variant ? { variant } : {}) } });
  const index = [entry('amd64'), entry('arm', 'v6'), entry('arm', 'v7'), entry('arm64', 'v8'), entry('unknown', undefined, 'unknown')];

  it('picks os, architecture and variant', () => {
    expect(selectPlatform(index, parsePlatform('linux/amd64'))?.digest).toBe('amd64');
    expect(selectPlatform(index, parsePlatform('linux/arm/v7'))?.digest).toBe('armv7');
    expect(selectPlatform(index, parsePlatform('linux/arm64'))?.digest).toBe('arm64v8');
    expect(selectPlatform(index, parsePlatform('linux/s390x'))).toBeUndefined();
    expect(() => parsePlatform('amd64')).toThrow(/OS\/ARCH/);
  });
});

describe('credentials files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-creds-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes the auth file and reads docker config entries too', async () => {
    const env = { HOME: dir, XDG_RUNTIME_DIR: path.join(dir, 'run') };
    await mkdir(path.join(dir, '.docker'));
    await writeFile(path.join(dir, '.docker', 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') } }, credsStore: 'x' }));
    const store = new CredentialStore(env);
    expect(await store.lookup('docker.io')).toEqual({ username: 'hub', password: 'pw' });
    const file = await store.save('localhost:5000', { username: 'u', password: 'p:w' });
    expect(file).toBe(path.join(dir, 'run', 'containers', 'auth.json'));
    expect(await store.lookup('localhost:5000')).toEqual({ username: 'u', password: 'p:w' });
    expect(await store.remove('docker.io')).toEqual([path.join(dir, '.docker', 'config.json')]);
    // Other settings in docker's file are kept.
    expect(JSON.parse(await readFile(path.join(dir, '.docker', 'config.json'), 'utf8'))).toEqual({ auths: {}, credsStore: 'x' });
    expect(await store.lookup('docker.io')).toBeUndefined();
  });

  it('says which file is damaged', async () => {
    const file = path.join(dir, 'auth.json');
    await writeFile(file, '{not json');
    await expect(new CredentialStore({ HOME: dir }, file).lookup('x')).rejects.toThrow(file);
  });
});
