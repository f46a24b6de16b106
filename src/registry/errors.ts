import { RiboError } from '../errors.js';
import { NetworkTimeoutError, TIMEOUT_VARIABLES } from './timeouts.js';

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/** Something the registry or the network did that may succeed when tried again. */
export interface MaybeTransient {
  transient: boolean;
}

/** The connection failed: refused, reset, timed out, or a TLS handshake that did not work. */
export class RegistryNetworkError extends RiboError implements MaybeTransient {
  readonly transient: boolean;
  readonly code?: string;
  readonly timedOut: boolean;
  constructor(method: string, url: URL, cause: NodeJS.ErrnoException) {
    const certificate = /CERT|SSL|TLS/.test(cause.code ?? '') || /certificate/i.test(cause.message);
    super(
      `${method} ${url.href} failed: ${cause.message}${cause.code ? ` (${cause.code})` : ''}. ` +
        (certificate
          ? `The registry's TLS certificate cannot be verified: name the certificate of the CA that signed it in NODE_EXTRA_CA_CERTS=FILE, or, for a registry you trust, pass --tls-verify=false.`
          : cause instanceof NetworkTimeoutError
            ? `Check that the registry is running and reachable; the limits are set in seconds with ${TIMEOUT_VARIABLES.connect} and ${TIMEOUT_VARIABLES.idle}.`
            : `Check the registry's name and port and that it is running; a registry without TLS on another host needs --tls-verify=false.`),
      { cause },
    );
    this.code = cause.code;
    this.timedOut = cause instanceof NetworkTimeoutError;
    this.transient = TRANSIENT_CODES.has(cause.code ?? '') || /socket hang up|aborted/i.test(cause.message);
  }
}

/** The registry answered with a status ribo did not expect. */
export class RegistryHttpError extends RiboError implements MaybeTransient {
  readonly status: number;
  readonly transient: boolean;
  constructor(response: { status: number; url: URL }, detail: string, hint = '') {
    super(`The registry answered ${response.status} to ${response.url.href}${detail ? `: ${detail}` : ''}.${hint ? ` ${hint}` : ''}`);
    this.status = response.status;
    this.transient = response.status >= 500 || response.status === 429;
  }
}

/** A redirect to something other than http(s) (file:, ftp:, data:): ribo never follows it. */
export class RegistryRedirectError extends RiboError {
  constructor(method: string, from: URL, to: URL) {
    super(`The registry redirected ${method} ${from.href} to ${to.href}, which is not an http(s) URL; ribo follows redirects to http and https only. Nothing was stored. Check the registry's configuration (its storage redirect URL).`);
  }
}

/** Credentials missing or refused. */
export class RegistryAuthError extends RiboError {}

/** The tag or digest does not exist in the repository. */
export class ManifestUnknownError extends RiboError {
  constructor(ref: string) {
    super(`The registry has no image ${ref}. Check the repository name and tag (\`skopeo list-tags docker://…\` lists the tags), and log in with \`ribo login\` if the repository is private.`);
  }
}

/** A manifest kind ribo cannot pull. */
export class UnsupportedRegistryManifestError extends RiboError {}

/** The bytes served for a blob or manifest are not the ones its digest names. */
export class RegistryContentError extends RiboError {}

export function isTransient(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Partial<MaybeTransient>).transient === true;
}
