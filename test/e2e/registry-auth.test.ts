/**
 * Logging in to registries that want credentials: htpasswd (Basic) and a
 * token service (Bearer, with the realm, service and scope of the challenge).
 */
import { execa } from 'execa';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';
import { startRegistry, startTokenServer, type RunningRegistry, type TokenServer } from '../setup/registry.js';

const USERS = { alice: 'correct horse', bob: 'battery staple' };
const cleanups: Array<() => Promise<unknown>> = [];
let source: string;
let authDir: string;

/** An auth file in a directory the e2e user owns, so no test touches a real home's credentials. */
async function authFile(name: string): Promise<string> {
  return path.join(authDir, `${name}.json`);
}

beforeAll(async () => {
  authDir = await mkdtemp(path.join(os.tmpdir(), 'ribo-auth-'));
  if (E2E_USER && process.getuid?.() === 0) {
    const { stdout } = await execa('id', ['-u', E2E_USER]);
    await chown(authDir, Number(stdout), Number((await execa('id', ['-g', E2E_USER])).stdout));
  }
  cleanups.push(() => execa('rm', ['-rf', authDir]));
  source = await makeStore();
  cleanups.push(() => removeStore(source));
  const ctx = await makeContext({}, 'hello');
  cleanups.push(() => execa('rm', ['-rf', ctx]));
  await riboOk(['build', '-q', '-t', 'authed:1', ctx], { root: source });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** The login/push/pull/logout round every kind of registry auth must pass. */
async function loginRound(host: string, file: string): Promise<void> {
  const name = `${host}/private/app:1`;
  const opts = { root: source, env: { REGISTRY_AUTH_FILE: file } };

  const anonymous = await ribo(['push', 'authed:1', name], opts);
  expect(anonymous.exitCode).toBe(1);
  expect(anonymous.stderr).toContain(`ribo login ${host}`);

  const wrong = await ribo(['login', '-u', 'alice', '-p', 'wrong password', host], opts);
  expect(wrong.exitCode).toBe(1);
  expect(wrong.stderr).toMatch(/alice/);
  expect(wrong.stderr).toMatch(/password/);
  expect(wrong.stderr).not.toMatch(/internal error/);
  await expect(stat(file)).rejects.toThrow();

  const login = await riboOk(['login', '-u', 'alice', '-p', 'correct horse', host], opts);
  expect(login.stderr).toContain('Login Succeeded');
  const saved = JSON.parse(await readFile(file, 'utf8'));
  expect(Buffer.from(saved.auths[host].auth, 'base64').toString()).toBe('alice:correct horse');
  expect((await stat(file)).mode & 0o077).toBe(0);

  await riboOk(['push', 'authed:1', name], opts);
  const target = await makeStore();
  cleanups.push(() => removeStore(target));
  await riboOk(['pull', name], { ...opts, root: target });
  expect((await riboOk(['run', '--rm', name], { ...opts, root: target })).stdout).toContain('Hello from a ribo container!');

  const logout = await riboOk(['logout', host], opts);
  expect(logout.stderr).toContain(file);
  expect(JSON.parse(await readFile(file, 'utf8')).auths[host]).toBeUndefined();
  const afterLogout = await ribo(['pull', name], { ...opts, root: await makeStore() });
  expect(afterLogout.exitCode).toBe(1);
  expect(afterLogout.stderr).toContain(`ribo login ${host}`);
  const again = await ribo(['logout', host], opts);
  expect(again.exitCode).toBe(2);
  expect(again.stderr).toContain(`Not logged in to ${host}`);
}

describe('htpasswd (Basic auth)', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'htpasswd', users: USERS });
  });
  afterAll(() => registry.stop());

  it('logs in, pushes, pulls and logs out; a wrong password is refused clearly', async () => {
    await loginRound(registry.host, await authFile('basic'));
  });
});

/** Makes `paths` the e2e user's, so ribo running as that user can use them. */
async function giveToE2eUser(...paths: string[]): Promise<void> {
  if (!E2E_USER || process.getuid?.() !== 0) return;
  await execa('chown', ['-R', `${E2E_USER}:`, ...paths]);
}

/** docker-credential-ribotest: keeps each secret in a file named by the server address, as a keychain would. */
const FAKE_HELPER = `#!/bin/sh
set -e
read -r input || true
case "$1" in
  store) server=$(printf '%s' "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/'); printf '%s' "$input" > "$FAKE_HELPER_DIR/$(printf '%s' "$server" | tr '/:' '__')" ;;
  get) f="$FAKE_HELPER_DIR/$(printf '%s' "$input" | tr '/:' '__')"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) rm -f "$FAKE_HELPER_DIR/$(printf '%s' "$input" | tr '/:' '__')" ;;
esac
`;

describe('a credential helper (credsStore)', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'htpasswd', users: USERS });
  });
  afterAll(() => registry.stop());

  it('logs in, pushes, pulls and logs out with the password kept by the helper, never in the auth file', async () => {
    const host = registry.host;
    const base = path.join(authDir, 'helper');
    const bin = path.join(base, 'bin');
    const secrets = path.join(base, 'secrets');
    await mkdir(bin, { recursive: true });
    await mkdir(secrets);
    await writeFile(path.join(bin, 'docker-credential-ribotest'), FAKE_HELPER);
    await chmod(path.join(bin, 'docker-credential-ribotest'), 0o755);
    const file = path.join(base, 'auth.json');
    await writeFile(file, JSON.stringify({ credsStore: 'ribotest' }));
    await giveToE2eUser(base);
    const opts = { root: source, env: { REGISTRY_AUTH_FILE: file, PATH: `${bin}:${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, FAKE_HELPER_DIR: secrets } };
    const name = `${host}/private/helper:1`;

    const login = await riboOk(['login', '-u', 'bob', '-p', 'battery staple', host], opts);
    expect(login.stderr).toContain(`credentials in docker-credential-ribotest, named in ${file}`);
    const saved = await readFile(file, 'utf8');
    expect(saved).not.toContain('battery');
    expect(JSON.parse(saved).auths[host]).toEqual({});
    expect(await readdir(secrets)).toHaveLength(1);

    await riboOk(['push', 'authed:1', name], opts);
    const target = await makeStore();
    cleanups.push(() => removeStore(target));
    await riboOk(['pull', name], { ...opts, root: target });

    await riboOk(['logout', host], opts);
    expect(await readdir(secrets)).toEqual([]);
    const afterLogout = await ribo(['pull', name], { ...opts, root: await makeStore() });
    expect(afterLogout.exitCode).toBe(1);
    expect(afterLogout.stderr).toContain(`ribo login ${host}`);
  });
});

describe('token service (Bearer auth)', () => {
  let token: TokenServer;
  let registry: RunningRegistry;
  beforeAll(async () => {
    token = await startTokenServer(USERS);
    registry = await startRegistry({ kind: 'token', token });
  });
  afterAll(async () => {
    await registry.stop();
    await token.stop();
  });

  it('logs in, pushes, pulls and logs out; a wrong password is refused clearly', async () => {
    await loginRound(registry.host, await authFile('bearer'));
    // The tokens asked for carried the scopes of the challenge.
    expect(token.requests).toContain('alice repository:private/app:pull,push');
    expect(token.requests).toContain('alice repository:private/app:pull');
  });
});

describe('https with a certificate', () => {
  let registry: RunningRegistry & { certFile?: string };
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'none' }, { tls: true });
  });
  afterAll(() => registry.stop());

  it('refuses a certificate it cannot verify, trusts one named in NODE_EXTRA_CA_CERTS, and skips the check with --tls-verify=false', async () => {
    const name = `${registry.host}/tls/app:1`;
    const untrusted = await ribo(['push', 'authed:1', name], { root: source });
    expect(untrusted.exitCode).toBe(1);
    expect(untrusted.stderr).toContain(`https://${registry.host}/v2/`);
    expect(untrusted.stderr).toMatch(/certificate cannot be verified.*NODE_EXTRA_CA_CERTS.*--tls-verify=false/);

    await riboOk(['push', 'authed:1', name], { root: source, env: { NODE_EXTRA_CA_CERTS: registry.certFile! } });
    const target = await makeStore();
    cleanups.push(() => removeStore(target));
    await riboOk(['pull', '--tls-verify=false', name], { root: target });
    expect((await riboOk(['run', '--rm', name], { root: target })).stdout).toContain('Hello from a ribo container!');
  });
});
