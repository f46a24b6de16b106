/**
 * Docker's credential helpers: `credsStore` and `credHelpers` in an auth file
 * name a program `docker-credential-NAME` that keeps the secrets (a keychain,
 * pass, Docker Desktop). Its protocol: `get` reads the server address on stdin
 * and prints {"Username","Secret"} as JSON, or fails with "credentials not
 * found"; `store` reads {"ServerURL","Username","Secret"}; `erase` reads the
 * address.
 */
import { execa } from 'execa';
import { RiboError } from '../errors.js';
import { DOCKER_HUB } from '../oci/reference.js';

export class CredentialHelperError extends RiboError {}

/** A user name and password (or token) for one registry, however they are kept. */
export interface Credentials {
  username: string;
  password: string;
}

/** The address docker hands a helper: Hub's historical URL, else the host[:port]. */
export function helperServerAddress(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

function programOf(helper: string): string {
  return `docker-credential-${helper}`;
}

async function callHelper(helper: string, action: 'get' | 'store' | 'erase', input: string, env: NodeJS.ProcessEnv) {
  try {
    return await execa(programOf(helper), [action], { input, env, reject: false, timeout: 60_000 });
  } catch (error) {
    throw new CredentialHelperError(`The credential helper ${programOf(helper)} could not be started (${(error as Error).message}).`, { cause: error });
  }
}

const isMissing = (result: { code?: string; exitCode?: number }) => result.code === 'ENOENT' || result.exitCode === 127;
const NOT_FOUND = /credentials not found/i;

/**
 * The helper's credentials for `registry`; undefined when it has none or is
 * not installed (then `onMissing` hears of it and the auth file's own entries
 * still count, so a copied Docker Desktop config does not stop anonymous pulls).
 */
export async function helperGet(helper: string, registry: string, env: NodeJS.ProcessEnv, onMissing: (program: string) => void): Promise<Credentials | undefined> {
  const result = await callHelper(helper, 'get', helperServerAddress(registry), env);
  if (isMissing(result)) {
    onMissing(programOf(helper));
    return undefined;
  }
  if (result.exitCode !== 0) {
    if (NOT_FOUND.test(`${result.stdout}${result.stderr}`)) return undefined;
    throw new CredentialHelperError(`${programOf(helper)} get failed for ${registry}: ${(result.stderr || result.stdout).trim() || `exit code ${result.exitCode}`}.`);
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(result.stdout) as typeof answer;
  } catch {
    throw new CredentialHelperError(`${programOf(helper)} get answered for ${registry} with something that is not JSON; check the helper.`);
  }
  if (typeof answer.Username !== 'string' || typeof answer.Secret !== 'string') {
    throw new CredentialHelperError(`${programOf(helper)} get answered for ${registry} without a Username and Secret; check the helper.`);
  }
  if (answer.Username === '<token>') {
    throw new CredentialHelperError(`${programOf(helper)} holds an identity token for ${registry}, which ribo cannot use; log in with a user name and password (ribo login ${registry}).`);
  }
  return { username: answer.Username, password: answer.Secret };
}

export async function helperStore(helper: string, registry: string, credentials: Credentials, env: NodeJS.ProcessEnv): Promise<void> {
  const input = JSON.stringify({ ServerURL: helperServerAddress(registry), Username: credentials.username, Secret: credentials.password });
  const result = await callHelper(helper, 'store', input, env);
  if (isMissing(result)) throw new CredentialHelperError(`The auth file asks for the credential helper ${programOf(helper)}, which is not installed: install it, or remove "credsStore"/"credHelpers" from the file, or choose another file with --authfile.`);
  if (result.exitCode !== 0) throw new CredentialHelperError(`${programOf(helper)} store failed for ${registry}: ${(result.stderr || result.stdout).trim() || `exit code ${result.exitCode}`}.`);
}

/** True when the helper had credentials for `registry` and removed them. */
export async function helperErase(helper: string, registry: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const result = await callHelper(helper, 'erase', helperServerAddress(registry), env);
  if (isMissing(result) || result.exitCode !== 0) return false;
  return true;
}
