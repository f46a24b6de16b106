import { jest } from '@jest/globals';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CredentialStore } from '../../src/registry/credentials.js';
import { CredentialHelperError } from '../../src/registry/credential-helpers.js';

/**
 * A docker-credential-NAME that keeps each secret as a JSON file named by the
 * server address, as real helpers keep them in a keychain; `get` of an
 * unknown address fails the way they do.
 */
const HELPER = `#!/usr/bin/env node
const fs = require('fs'), path = require('path');
const dir = process.env.FAKE_HELPER_DIR;
const input = fs.readFileSync(0, 'utf8').trim();
const fileOf = (server) => path.join(dir, encodeURIComponent(server));
const action = process.argv[2];
if (action === 'store') { const c = JSON.parse(input); fs.writeFileSync(fileOf(c.ServerURL), input); }
else if (action === 'get') {
  if (!fs.existsSync(fileOf(input))) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
  process.stdout.write(fs.readFileSync(fileOf(input)));
} else if (action === 'erase') fs.rmSync(fileOf(input), { force: true });
`;

let dir: string;
let env: NodeJS.ProcessEnv;
let secrets: string;

async function installHelper(name: string, script = HELPER): Promise<void> {
  const file = path.join(dir, 'bin', `docker-credential-${name}`);
  await writeFile(file, script);
  await chmod(file, 0o755);
}

async function writeConfig(content: object): Promise<string> {
  const file = path.join(dir, '.docker', 'config.json');
  await writeFile(file, JSON.stringify(content));
  return file;
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-credhelper-'));
  secrets = path.join(dir, 'secrets');
  await Promise.all([mkdir(path.join(dir, 'bin')), mkdir(path.join(dir, '.docker')), mkdir(secrets)]);
  env = { HOME: dir, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, FAKE_HELPER_DIR: secrets };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('credential helpers', () => {
  it('logs in, looks up and logs out through credsStore; the file records only that a login happened', async () => {
    await installHelper('fake');
    const file = await writeConfig({ credsStore: 'fake' });
    const store = new CredentialStore(env);
    expect(await store.save('registry.example:5000', { username: 'u', password: 's3cret' })).toBe(`docker-credential-fake, named in ${file}`);
    const content = await readFile(file, 'utf8');
    expect(JSON.parse(content)).toEqual({ credsStore: 'fake', auths: { 'registry.example:5000': {} } });
    expect(content).not.toContain('s3cret');
    expect(await readdir(secrets)).toEqual([encodeURIComponent('registry.example:5000')]);
    expect(await store.lookup('registry.example:5000')).toEqual({ username: 'u', password: 's3cret' });
    expect(await store.remove('registry.example:5000')).toEqual([file]);
    expect(await readdir(secrets)).toEqual([]);
    expect(await store.lookup('registry.example:5000')).toBeUndefined();
  });

  it('asks a per-registry helper before credsStore, hands Docker Hub its historical address, and falls back to the file when a helper has nothing', async () => {
    await installHelper('fake');
    await installHelper('other');
    await writeConfig({
      credsStore: 'other',
      credHelpers: { 'docker.io': 'fake' },
      auths: { 'plain.example': { auth: Buffer.from('file-user:file-pw').toString('base64') } },
    });
    await writeFile(path.join(secrets, encodeURIComponent('https://index.docker.io/v1/')), JSON.stringify({ ServerURL: 'https://index.docker.io/v1/', Username: 'hub', Secret: 'hub-pw' }));
    const store = new CredentialStore(env);
    expect(await store.lookup('docker.io')).toEqual({ username: 'hub', password: 'hub-pw' });
    expect(await store.lookup('plain.example')).toEqual({ username: 'file-user', password: 'file-pw' });
    expect(await store.lookup('nothing.example')).toBeUndefined();
  });

  it('warns about a helper that is not installed and goes on with the file\'s entries', async () => {
    const file = await writeConfig({ credsStore: 'desktop', auths: { 'plain.example': { auth: Buffer.from('a:b').toString('base64') } } });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(await new CredentialStore(env).lookup('plain.example')).toEqual({ username: 'a', password: 'b' });
      expect(String(warn.mock.calls[0]![0])).toContain(`${file} names the credential helper docker-credential-desktop`);
    } finally {
      warn.mockRestore();
    }
    await expect(new CredentialStore(env).save('plain.example', { username: 'a', password: 'b' })).rejects.toThrow(/docker-credential-desktop, which is not installed/);
  });

  it('says which helper gave an answer it cannot use', async () => {
    await installHelper('broken', '#!/bin/sh\necho "not json"\n');
    await writeConfig({ credsStore: 'broken' });
    const lookup = new CredentialStore(env).lookup('registry.example');
    await expect(lookup).rejects.toBeInstanceOf(CredentialHelperError);
    await expect(new CredentialStore(env).lookup('registry.example')).rejects.toThrow(/docker-credential-broken get .* not JSON/);
  });
});
