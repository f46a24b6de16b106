/*
 * Image references: the one grammar every command, the store, the build
 * engine and the registry client use. It follows docker's reading of them
 * (distribution/reference, "normalized" names):
 *
 *   [HOST[:PORT]/]PATH[:TAG][@DIGEST]
 *
 * - The first '/'-separated component is a registry host only when it is
 *   "localhost", contains a "." or contains a ":" (a port). Otherwise the host
 *   is docker.io, and a one-component name on docker.io lives under
 *   "library/": `ubuntu`, `library/ubuntu`, `docker.io/ubuntu`,
 *   `docker.io/library/ubuntu` and `index.docker.io/library/ubuntu` are one
 *   image. (docker also takes an upper-case first component for a host;
 *   ribo refuses it as an upper-case repository instead, see docs/store.md.)
 * - The host may have upper-case letters; path components are lower-case
 *   letters and digits joined by ".", "_", "__" or dashes.
 * - The tag defaults to "latest" unless a digest is given.
 * - The full name (host/path) is at most 255 characters, the tag 128.
 *
 * Two spellings: the canonical one (`docker.io/library/ubuntu:latest`), which
 * the registry client and comparisons use, and the familiar one (`ubuntu:latest`,
 * `localhost/app:1`, `quay.io/org/app:2`), which is what users read and what
 * the store writes as org.opencontainers.image.ref.name.
 */
import { UsageError } from '../errors.js';

export const DOCKER_HUB = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DOCKER_HUB = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const FULL_HEX_ID = /^[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

/** A reference outside the grammar; the message names the reference and the rule it breaks. */
export class InvalidImageRefError extends UsageError {
  constructor(readonly ref: string, reason: string) {
    super(
      `"${ref}" is not a valid image reference: ${reason}. ` +
        `Write [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], where NAME is lower-case path components like "team/app" and TAG is up to 128 letters, digits, "_", "." or "-" (for example "app:1.0" or "localhost:5000/team/app:1.0").`,
    );
  }
}

/** A reference with docker's defaults filled in. */
export interface ImageRef {
  /** HOST[:PORT] as written (docker.io for Docker Hub, also when written index.docker.io). */
  registry: string;
  /** The repository path inside the registry, e.g. "library/alpine". */
  repository: string;
  /** The tag; "latest" when neither a tag nor a digest was given. */
  tag?: string;
  /** sha256:… pinning the manifest. */
  digest?: string;
}

/** Does the first path component name a registry host? (docker's rule, minus upper case: see the top.) */
function isRegistryHost(component: string): boolean {
  return component === 'localhost' || component.includes('.') || component.includes(':');
}

/** Parses NAME[:TAG][@DIGEST] the way `docker pull` reads it; throws InvalidImageRefError. */
export function parseImageRef(input: string): ImageRef {
  if (input.length === 0) throw new InvalidImageRefError(input, 'it is empty');
  if (FULL_HEX_ID.test(input)) throw new InvalidImageRefError(input, 'a repository name cannot be 64 hexadecimal digits (that is an image id; write sha256:ID)');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!SHA256_DIGEST.test(digest)) throw new InvalidImageRefError(input, `the digest "${digest}" is not "sha256:" followed by 64 lower-case hex digits`);
  }
  const slash = rest.indexOf('/');
  let registry = DOCKER_HUB;
  let remainder = rest;
  if (slash >= 0 && isRegistryHost(rest.slice(0, slash))) {
    registry = rest.slice(0, slash);
    remainder = rest.slice(slash + 1);
    if (!DOMAIN.test(registry)) throw new InvalidImageRefError(input, `"${registry}" is not a valid registry host (letters, digits, "-" and ".", an optional :PORT)`);
  }
  if (registry === LEGACY_DOCKER_HUB) registry = DOCKER_HUB;
  const colon = remainder.indexOf(':');
  const repository = colon === -1 ? remainder : remainder.slice(0, colon);
  const tag = colon === -1 ? undefined : remainder.slice(colon + 1);
  checkRepository(input, repository);
  if (tag !== undefined && !TAG.test(tag)) {
    throw new InvalidImageRefError(input, `the tag "${tag}" is not allowed (a letter, digit or "_", then up to 127 letters, digits, "_", "." or "-")`);
  }
  const fullRepository = registry === DOCKER_HUB && !repository.includes('/') ? OFFICIAL_PREFIX + repository : repository;
  if (registry.length + 1 + fullRepository.length > MAX_NAME_LENGTH) {
    throw new InvalidImageRefError(input, `the name "${registry}/${fullRepository}" is longer than ${MAX_NAME_LENGTH} characters`);
  }
  return { registry, repository: fullRepository, tag: tag ?? (digest ? undefined : DEFAULT_TAG), ...(digest ? { digest } : {}) };
}

function checkRepository(input: string, repository: string): void {
  if (repository.length === 0) throw new InvalidImageRefError(input, 'it names no repository');
  if (repository !== repository.toLowerCase()) {
    throw new InvalidImageRefError(input, `the repository "${repository}" must be lower-case (only a registry host, the part before the first "/" with a "." or ":" in it, may have capitals)`);
  }
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw new InvalidImageRefError(
        input,
        component === ''
          ? 'the name has an empty path component'
          : `the name component "${component}" must be lower-case letters and digits, separated by ".", "_", "__" or dashes`,
      );
    }
  }
}

/** "docker.io/library/alpine" — the full name, without tag or digest. */
export function canonicalName(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** "alpine", "user/app", "localhost:5000/app": the name as docker shows it. */
export function familiarName(ref: ImageRef): string {
  if (ref.registry !== DOCKER_HUB) return canonicalName(ref);
  const path = ref.repository;
  return path.startsWith(OFFICIAL_PREFIX) && !path.slice(OFFICIAL_PREFIX.length).includes('/') ? path.slice(OFFICIAL_PREFIX.length) : path;
}

function suffix(ref: ImageRef): string {
  return `${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** "docker.io/library/alpine:3" / "localhost:5000/app@sha256:…" */
export function canonicalRef(ref: ImageRef): string {
  return canonicalName(ref) + suffix(ref);
}

/** "alpine:3" / "localhost:5000/app@sha256:…" */
export function familiarRef(ref: ImageRef): string {
  return familiarName(ref) + suffix(ref);
}

/**
 * The familiar NAME:TAG an image is tagged with ("docker.io/hello" ->
 * "hello:latest"); refuses digests, which cannot be tags.
 */
export function normalizeImageRef(input: string): string {
  const ref = parseImageRef(input);
  if (ref.digest) throw new InvalidImageRefError(input, 'a digest (NAME@sha256:...) cannot be used as a tag');
  return familiarRef(ref);
}

/**
 * The canonical NAME:TAG a stored ref.name stands for, to compare names
 * however they were spelled (earlier ribo versions wrote "docker.io/library/x:1"
 * for pulled images and "x:1" for built ones); undefined when it does not
 * parse (a name written by another tool), which then only matches itself.
 */
export function comparableName(name: string): string | undefined {
  try {
    return canonicalRef(parseImageRef(name));
  } catch (error) {
    if (error instanceof InvalidImageRefError) return undefined;
    throw error;
  }
}
