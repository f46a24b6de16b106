import { isDigest } from '../oci/digest.js';
import { InvalidImageRefError, normalizeImageRef } from '../store/index.js';

/*
 * Registry references, resolved the way `docker pull` resolves them:
 * a first path component with a "." or ":" or equal to "localhost" names the
 * registry host; otherwise the host is docker.io, and a one-component name on
 * docker.io lives under "library/". The tag defaults to "latest"; a digest
 * (NAME@sha256:...) pins the manifest.
 */

export const DOCKER_HUB = 'docker.io';
/** Where docker.io's API really is. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface RegistryRef {
  /** Host[:port] as the user wrote it, docker.io for Docker Hub. */
  registry: string;
  /** Repository path inside the registry, e.g. "library/alpine". */
  repository: string;
  tag?: string;
  digest?: string;
}

function isRegistryHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** Parses NAME[:TAG][@DIGEST] with Docker's defaults; throws InvalidImageRefError. */
export function parseRegistryRef(input: string): RegistryRef {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new InvalidImageRefError(input, `"${digest}" is not a sha256 digest (sha256: and 64 lower-case hex digits)`);
  }
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  const name = colon === -1 ? rest : rest.slice(0, colon);
  const tag = colon === -1 ? undefined : rest.slice(colon + 1);
  // The store's grammar check covers host, path components and tag.
  normalizeImageRef(`${name}:${tag ?? 'latest'}`);
  const components = name.split('/');
  let registry = DOCKER_HUB;
  if (components.length > 1 && isRegistryHost(components[0]!)) registry = components.shift()!;
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && components.length === 1) components.unshift('library');
  return { registry, repository: components.join('/'), tag: tag ?? (digest ? undefined : 'latest'), digest };
}

/** "docker.io/library/alpine:3" / "localhost:5000/app@sha256:…" */
export function formatRef(ref: RegistryRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The full NAME:TAG a pulled image is tagged with in the store; undefined for a digest-only reference. */
export function storeName(ref: RegistryRef): string | undefined {
  return ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : undefined;
}

/** The host to connect to for a registry name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Registries on this machine, where plain http is allowed without asking. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** A login argument ("localhost:5000", "https://index.docker.io/v1/", "docker.io") as a registry name. */
export function registryOfLoginArg(arg: string): string {
  let host = arg.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') host = DOCKER_HUB;
  return host;
}
