import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { RiboError } from '../errors.js';
import { DOCKER_HUB } from '../oci/reference.js';
import { helperErase, helperGet, helperStore, type Credentials } from './credential-helpers.js';
import { writeFileAtomic } from '../files/atomic-write.js';

export type { Credentials } from './credential-helpers.js';

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  /** The credential helper for every registry (docker-credential-NAME). */
  credsStore?: string;
  /** Per-registry credential helpers; these win over credsStore. */
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

/** The credential helper the file names for `registry`, if any. */
function helperFor(content: AuthFile, registry: string): string | undefined {
  for (const key of entryKeys(registry)) {
    const helper = content.credHelpers?.[key];
    if (helper) return helper;
  }
  return content.credsStore || undefined;
}

export class AuthFileError extends RiboError {}

/**
 * Where registry credentials are kept. `ribo login` writes to the auth file
 * (--authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json
 * when XDG_RUNTIME_DIR is set, else ~/.docker/config.json: podman's order);
 * lookups read that file first and then ~/.docker/config.json, so a
 * `docker login` done earlier is used too. Both files have the same format.
 * Where a file names a credential helper for the registry (credHelpers, else
 * credsStore), that helper is asked first, and `ribo login`/`logout` store
 * and erase through it, as docker does.
 */
export class CredentialStore {
  constructor(private readonly env: NodeJS.ProcessEnv, private readonly explicitFile?: string) {}

  private get dockerConfig(): string {
    return path.join(this.env.DOCKER_CONFIG ?? path.join(this.env.HOME ?? '/', '.docker'), 'config.json');
  }

  /** The file `ribo login` writes. */
  get loginFile(): string {
    if (this.explicitFile) return path.resolve(this.explicitFile);
    if (this.env.REGISTRY_AUTH_FILE) return path.resolve(this.env.REGISTRY_AUTH_FILE);
    if (this.env.XDG_RUNTIME_DIR) return path.join(this.env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
    return this.dockerConfig;
  }

  /** The files read, in order; with an explicit auth file only that one. */
  private get readFiles(): string[] {
    if (this.explicitFile || this.env.REGISTRY_AUTH_FILE) return [this.loginFile];
    return [...new Set([this.loginFile, this.dockerConfig])];
  }

  async lookup(registry: string): Promise<Credentials | undefined> {
    for (const file of this.readFiles) {
      const content = await readAuthFile(file);
      const helper = helperFor(content, registry);
      if (helper) {
        const found = await helperGet(helper, registry, this.env, (program) =>
          process.emitWarning(`${file} names the credential helper ${program}, which is not installed; going on without it.`),
        );
        if (found) return found;
      }
      for (const key of entryKeys(registry)) {
        const entry = content.auths?.[key];
        if (!entry) continue;
        if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
        if (entry.auth) {
          const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          if (colon < 0) throw new AuthFileError(`The credentials for ${registry} in ${file} are damaged (the "auth" value is not base64 of USER:PASSWORD); run \`ribo login ${registry}\` again.`);
          return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
        }
      }
    }
    return undefined;
  }

  /** Stores the credentials where the login file says; returns where, for the user. */
  async save(registry: string, credentials: Credentials): Promise<string> {
    const file = this.loginFile;
    const content = await readAuthFile(file);
    content.auths ??= {};
    for (const key of entryKeys(registry)) delete content.auths[key];
    const helper = helperFor(content, registry);
    if (helper) {
      await helperStore(helper, registry, credentials, this.env);
      // As docker does: an empty entry records the login, the secret stays with the helper.
      content.auths[registry] = {};
    } else {
      content.auths[registry] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
    }
    await writeAuthFile(file, content);
    return helper ? `docker-credential-${helper}, named in ${file}` : file;
  }

  /** Removes the registry's credentials from every file they are read from; the files changed. */
  async remove(registry: string | 'all'): Promise<string[]> {
    const changed: string[] = [];
    for (const file of this.readFiles) {
      const content = await readAuthFile(file);
      if (!content.auths) continue;
      const keys = registry === 'all' ? Object.keys(content.auths) : entryKeys(registry).filter((key) => key in content.auths!);
      let erased = false;
      for (const key of registry === 'all' ? keys : [registry]) {
        const helper = helperFor(content, key);
        if (helper && (await helperErase(helper, key, this.env))) erased = true;
      }
      if (keys.length === 0 && !erased) continue;
      for (const key of keys) delete content.auths[key];
      if (keys.length > 0) await writeAuthFile(file, content);
      changed.push(file);
    }
    return changed;
  }
}

/** The keys an entry for `registry` may have been written under (docker writes Hub's as a URL). */
function entryKeys(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === DOCKER_HUB) keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

async function readAuthFile(file: string): Promise<AuthFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new AuthFileError(`Cannot read the registry credentials file ${file}: ${(error as Error).message}.`);
  }
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as AuthFile;
  } catch (error) {
    throw new AuthFileError(`The registry credentials file ${file} is not valid JSON (${(error as Error).message}); fix or remove it, then run \`ribo login\` again.`);
  }
}

/** Written to a temp file and renamed: a crash never leaves half a file; readable by the owner only. */
async function writeAuthFile(file: string, content: AuthFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await writeFileAtomic(file, JSON.stringify(content, null, '\t') + '\n', { mode: 0o600 });
  } catch (error) {
    throw new AuthFileError(`Cannot write the registry credentials file ${file}: ${(error as Error).message}. Choose another with --authfile.`);
  }
}
