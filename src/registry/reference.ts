/*
 * Registry names as the client connects to them. The reference grammar
 * itself (host, repository, tag, digest, docker's defaults) lives in
 * oci/reference.ts, shared with the store and the build engine.
 */
import { DOCKER_HUB } from '../oci/reference.js';

/** Where docker.io's API really is. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

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
