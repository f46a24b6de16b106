import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { sha256Of } from '../oci/digest.js';
import { RiboError } from '../errors.js';
import { networkTimeouts } from './timeouts.js';
import type { CredentialStore, Credentials } from './credentials.js';
import { isTransient, ManifestUnknownError, RegistryAuthError, RegistryContentError, RegistryHttpError, RegistryNetworkError } from './errors.js';
import { errorDetail, HttpTransport, readBody, type HttpRequest, type HttpResponse } from './http.js';
import { apiHost, isLoopbackRegistry } from './reference.js';

export interface ClientOptions {
  credentials: CredentialStore;
  /** false (--tls-verify=false): plain http and unverified TLS allowed for any registry, not only loopback ones. */
  tlsVerify?: boolean;
  /** Log in with these instead of the stored ones (ribo login). */
  credentialsOverride?: Credentials;
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export const pullScope = (repository: string) => `repository:${repository}:pull`;
export const pushScope = (repository: string) => `repository:${repository}:pull,push`;

const FIRST_BACKOFF_MS = 300;

/**
 * Runs `attempt` again after transient failures (5xx, 429, reset connections,
 * timeouts), waiting longer each time, up to `attempts` tries in all
 * (RIBO_NETWORK_ATTEMPTS, 3 by default).
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, onRetry?: (error: unknown, n: number) => void, attempts = networkTimeouts().attempts): Promise<T> {
  for (let n = 1; ; n += 1) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!isTransient(error) || n >= attempts) {
        if (n > 1 && error instanceof RiboError) error.message += ` (Tried ${n} times.)`;
        throw error;
      }
      onRetry?.(error, n);
      await sleep(FIRST_BACKOFF_MS * 2 ** (n - 1));
    }
  }
}

/**
 * One registry, spoken to through the distribution API (/v2/). Decides the
 * scheme once (https; plain http only for loopback registries or with
 * --tls-verify=false), answers the registry's auth challenge (Basic, or a
 * Bearer token from the realm it names, per scope) and keeps the tokens.
 */
export class RegistryClient {
  private base?: URL;
  /** The ping under way, shared by callers that come while it runs. */
  private pinging?: Promise<void>;
  private challenge?: Challenge | null;
  private credentials?: Credentials | null;
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly registry: string,
    private readonly options: ClientOptions,
    private readonly transport: HttpTransport,
  ) {}

  private async creds(): Promise<Credentials | undefined> {
    if (this.credentials === undefined) this.credentials = this.options.credentialsOverride ?? (await this.options.credentials.lookup(this.registry)) ?? null;
    return this.credentials ?? undefined;
  }

  /**
   * GET /v2/: picks the scheme and learns how the registry wants to be
   * authenticated. Callers may start it early (ribo pull does, while the store
   * opens); a failed ping is tried afresh by the next caller.
   */
  async ping(): Promise<void> {
    if (this.base) return;
    this.pinging ??= this.findApi().finally(() => {
      this.pinging = undefined;
    });
    return this.pinging;
  }

  /**
   * The schemes to try, in order. A loopback registry is asked over plain
   * http first: local registries mostly speak it, one port speaks one of the
   * two, and the https attempt would first load the trusted roots (about 25 ms
   * of a local pull) only to be answered in plain http. Elsewhere https comes
   * first, and plain http only with --tls-verify=false, as docker does.
   */
  private schemes(): string[] {
    if (isLoopbackRegistry(this.registry)) return ['http', 'https'];
    return this.options.tlsVerify === false ? ['https', 'http'] : ['https'];
  }

  private async findApi(): Promise<void> {
    const host = apiHost(this.registry);
    const failures = new Map<string, unknown>();
    for (const scheme of this.schemes()) {
      const base = new URL(`${scheme}://${host}/v2/`);
      try {
        const response = await withRetry(() => this.transport.send({ method: 'GET', url: base }), undefined, this.transport.timeouts.attempts);
        response.body.resume();
        if (response.status !== 200 && response.status !== 401) throw new RegistryHttpError(response, 'this does not look like an OCI registry (GET /v2/ should answer 200 or 401)');
        this.challenge = response.status === 401 ? parseChallenge(String(response.headers['www-authenticate'] ?? '')) : null;
        this.base = base;
        return;
      } catch (error) {
        if (!(error instanceof RegistryNetworkError) && !(error instanceof RegistryHttpError)) throw error;
        // An https server that answers with another status is the registry's answer.
        if (scheme === 'https' && error instanceof RegistryHttpError) throw error;
        // A server that accepts and then says nothing would say nothing to the other scheme either.
        if (error instanceof RegistryNetworkError && error.timedOut) throw failures.get('https') ?? error;
        failures.set(scheme, error);
      }
    }
    throw explainFailure(failures);
  }

  /** Checks the stored (or given) credentials against the registry, as `ribo login` does. */
  async verifyLogin(): Promise<void> {
    await this.ping();
    const credentials = await this.creds();
    if (!this.challenge) return;
    if (this.challenge.scheme === 'bearer') {
      await this.fetchToken([]);
      return;
    }
    const response = await this.request({ method: 'GET', path: '', scopes: [] }).catch((error: unknown) => {
      if (!(error instanceof RegistryAuthError)) throw error;
      throw new RegistryAuthError(`${this.registry} rejected user "${credentials?.username}": wrong user name or password. Nothing was stored; try again with the right ones.`);
    });
    response.body.resume();
    if (response.status !== 200) throw new RegistryHttpError(response, `login as ${credentials?.username} failed`);
  }

  /** Sends a request to /v2/<path>, authenticating as the registry asks. */
  async request(req: { method: HttpRequest['method']; path: string; scopes: string[]; headers?: Record<string, string>; body?: HttpRequest['body']; absolute?: URL }): Promise<HttpResponse> {
    await this.ping();
    const url = req.absolute ?? new URL(req.path, this.base);
    const send = async () => this.transport.send({ method: req.method, url, headers: { ...req.headers, ...(await this.authorization(req.scopes)) }, body: req.body });
    let response = await send();
    if (response.status !== 401) return response;
    response.body.resume();
    const challenge = parseChallenge(String(response.headers['www-authenticate'] ?? ''));
    if (!challenge) throw new RegistryHttpError(response, 'it asked for credentials without saying how (no WWW-Authenticate header)');
    this.challenge = challenge;
    if (challenge.scheme === 'bearer') this.tokens.delete(req.scopes.join(' '));
    response = await send();
    if (response.status === 401) {
      response.body.resume();
      const credentials = await this.creds();
      throw new RegistryAuthError(
        credentials
          ? `${this.registry} refused ${req.method} ${url.pathname} for user "${credentials.username}": the user has no access to it, or the password is wrong. Check the repository name, or log in again with \`ribo login ${this.registry}\`.`
          : `${this.registry} requires you to log in for ${req.method} ${url.pathname}: run \`ribo login ${this.registry}\` first (or pass --authfile).`,
      );
    }
    return response;
  }

  private async authorization(scopes: string[]): Promise<Record<string, string>> {
    if (!this.challenge) return {};
    if (this.challenge.scheme === 'basic') {
      const credentials = await this.creds();
      return credentials ? { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` } : {};
    }
    const key = scopes.join(' ');
    let token = this.tokens.get(key);
    if (!token) {
      token = await this.fetchToken(scopes);
      this.tokens.set(key, token);
    }
    return { authorization: `Bearer ${token}` };
  }

  /** Asks the challenge's realm for a token covering `scopes`, with the user's credentials if there are any. */
  private async fetchToken(scopes: string[]): Promise<string> {
    const { realm, service } = this.challenge!.params;
    if (!realm) throw new RegistryAuthError(`${this.registry} asked for a bearer token without naming a realm to get it from; ribo cannot log in to it.`);
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const credentials = await this.creds();
    const headers: Record<string, string> = {};
    if (credentials) {
      url.searchParams.set('account', credentials.username);
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    const response = await withRetry(() => this.transport.send({ method: 'GET', url, headers }).then(async (r) => {
      if (r.status >= 500 || r.status === 429) {
        r.body.resume();
        throw new RegistryHttpError(r, 'the token service failed');
      }
      return r;
    }));
    if (response.status === 401 || response.status === 403) {
      response.body.resume();
      throw new RegistryAuthError(
        credentials
          ? `The token service of ${this.registry} (${url.origin}${url.pathname}) rejected user "${credentials.username}": wrong user name or password. Log in again with \`ribo login ${this.registry}\`.`
          : `${this.registry} gives no anonymous access: run \`ribo login ${this.registry}\` first.`,
      );
    }
    if (response.status !== 200) throw new RegistryHttpError(response, await errorDetail(response), 'The token service did not give a token.');
    const body = JSON.parse((await readBody(response)).toString('utf8')) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryAuthError(`The token service of ${this.registry} answered without a token; ribo cannot authenticate there.`);
    return token;
  }

  // ---- distribution API calls ----

  async getManifest(repository: string, reference: string, accept: readonly string[]): Promise<FetchedManifest> {
    return withRetry(async () => {
      const response = await this.request({ method: 'GET', path: `${repository}/manifests/${reference}`, scopes: [pullScope(repository)], headers: { accept: accept.join(', ') } });
      if (response.status === 404) {
        response.body.resume();
        throw new ManifestUnknownError(`${this.registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`);
      }
      if (response.status !== 200) throw new RegistryHttpError(response, await errorDetail(response));
      const bytes = await readBody(response, 4 * 1024 * 1024);
      const digest = sha256Of(bytes);
      if (reference.startsWith('sha256:') && digest !== reference) {
        throw new RegistryContentError(`The registry served a manifest for ${this.registry}/${repository}@${reference} whose content hashes to ${digest}; it is corrupt or was altered on the way. Nothing was stored.`);
      }
      let mediaType = String(response.headers['content-type'] ?? '').split(';')[0]!.trim();
      try {
        mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType;
      } catch {
        throw new RegistryContentError(`The manifest of ${this.registry}/${repository}:${reference} is not JSON; ribo cannot use it.`);
      }
      return { bytes, mediaType, digest };
    });
  }

  async hasBlob(repository: string, digest: string, scopes = [pullScope(repository)]): Promise<boolean> {
    return withRetry(async () => {
      const response = await this.request({ method: 'HEAD', path: `${repository}/blobs/${digest}`, scopes });
      response.body.resume();
      if (response.status === 200) return true;
      if (response.status === 404) return false;
      throw new RegistryHttpError(response, '');
    });
  }

  /** GET of a blob, whose body the caller streams; from `offset` on (HTTP Range) when it is not 0, which the registry may answer with the whole blob (200) anyway. */
  async getBlob(repository: string, digest: string, offset = 0): Promise<HttpResponse> {
    const headers = offset > 0 ? { range: `bytes=${offset}-` } : undefined;
    const response = await this.request({ method: 'GET', path: `${repository}/blobs/${digest}`, scopes: [pullScope(repository)], headers });
    if (response.status === 200 || (offset > 0 && response.status === 206)) return response;
    if (response.status === 404) {
      response.body.resume();
      throw new RegistryContentError(`The registry lists blob ${digest} in ${this.registry}/${repository} but does not have it (404); the image there is incomplete. Push it again.`);
    }
    throw new RegistryHttpError(response, await errorDetail(response));
  }

  /**
   * Starts a blob upload; with `mount`, asks the registry to link the blob
   * from another repository instead (true when it did, no upload needed).
   */
  async startUpload(repository: string, mount?: { digest: string; from: string }): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const scopes = [pushScope(repository), ...(mount ? [pullScope(mount.from)] : [])];
    const query = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : '';
    const response = await this.request({ method: 'POST', path: `${repository}/blobs/uploads/${query}`, scopes });
    if (response.status === 201 && mount) {
      response.body.resume();
      return { mounted: true };
    }
    if (response.status !== 202) throw new RegistryHttpError(response, await errorDetail(response), `Starting an upload to ${this.registry}/${repository} failed.`);
    response.body.resume();
    return { mounted: false, location: this.uploadLocation(response) };
  }

  uploadLocation(response: HttpResponse): URL {
    const location = response.headers.location;
    if (!location) throw new RegistryHttpError(response, 'the registry gave no Location for the upload');
    return new URL(location, this.base);
  }

  /** PATCH/PUT to an upload location (absolute URL from the registry). */
  async uploadRequest(method: 'PATCH' | 'PUT', location: URL, repository: string, headers: Record<string, string>, body?: Buffer | (() => Readable)): Promise<HttpResponse> {
    return this.request({ method, path: '', absolute: location, scopes: [pushScope(repository)], headers, body });
  }

  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<void> {
    await withRetry(async () => {
      const response = await this.request({ method: 'PUT', path: `${repository}/manifests/${reference}`, scopes: [pushScope(repository)], headers: { 'content-type': mediaType }, body: bytes });
      if (response.status !== 201 && response.status !== 200) throw new RegistryHttpError(response, await errorDetail(response), `Uploading the manifest to ${this.registry}/${repository}:${reference} failed.`);
      response.body.resume();
    });
  }
}

/** `Bearer realm="…",service="…",scope="…"` / `Basic realm="…"` */
export function parseChallenge(header: string): Challenge | null {
  const match = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!match) return null;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return null;
  const params: Record<string, string> = {};
  for (const param of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : param[3]!;
  }
  return { scheme, params };
}

/**
 * Why neither scheme reached a registry: the https failure (a certificate
 * problem, say), unless plain http was answered by a web server that is not a
 * registry. Plain http sent to an https port is answered 400, which says
 * nothing.
 */
function explainFailure(failures: Map<string, unknown>): unknown {
  const plain = failures.get('http');
  if (plain instanceof RegistryHttpError && plain.status !== 400) return plain;
  return failures.get('https') ?? plain;
}
