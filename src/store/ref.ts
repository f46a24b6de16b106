import path from 'node:path';
import { InvalidImageRefError } from './errors.js';

/*
 * Image references follow the Docker reference grammar
 * (distribution/reference): NAME[:TAG], where NAME is an optional registry
 * domain followed by '/'-separated lower-case path components.
 */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const MAX_NAME_LENGTH = 255;
export const DEFAULT_TAG = 'latest';

/** Does the first path component name a registry host rather than a repository? */
function looksLikeDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component !== component.toLowerCase();
}

/** "hello" -> "hello:latest"; throws InvalidImageRefError on anything outside the grammar. */
export function normalizeImageRef(ref: string): string {
  if (ref.length === 0) throw new InvalidImageRefError(ref, 'it is empty');
  if (ref.includes('@')) {
    throw new InvalidImageRefError(ref, 'digest references (NAME@sha256:...) cannot be used as tags');
  }
  const lastSlash = ref.lastIndexOf('/');
  const tagColon = ref.indexOf(':', lastSlash + 1);
  const name = tagColon === -1 ? ref : ref.slice(0, tagColon);
  const tag = tagColon === -1 ? DEFAULT_TAG : ref.slice(tagColon + 1);

  if (!TAG.test(tag)) throw new InvalidImageRefError(ref, `the tag "${tag}" is not allowed`);
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidImageRefError(ref, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  const components = name.split('/');
  if (components.length > 1 && looksLikeDomain(components[0]!)) {
    const domain = components.shift()!;
    if (!DOMAIN.test(domain)) throw new InvalidImageRefError(ref, `"${domain}" is not a valid registry host`);
  }
  for (const component of components) {
    if (!PATH_COMPONENT.test(component)) {
      throw new InvalidImageRefError(
        ref,
        component === ''
          ? 'the name has an empty path component'
          : `the name component "${component}" must be lower-case letters and digits, separated by ".", "_", "__" or dashes`,
      );
    }
  }
  return `${name}:${tag}`;
}

/**
 * The name a short NAME:TAG has on Docker Hub ("hello:latest" ->
 * "docker.io/library/hello:latest"), which is what `ribo pull hello` tags;
 * undefined when the name already starts with a registry host.
 */
export function dockerHubName(normalized: string): string | undefined {
  const components = normalized.split('/');
  if (components.length > 1 && looksLikeDomain(components[0]!)) return undefined;
  return `docker.io/${components.length === 1 ? 'library/' : ''}${normalized}`;
}

/**
 * Where the store lives: --root, else $RIBO_ROOT, else $XDG_DATA_HOME/ribo
 * (only if absolute, as the XDG spec requires), else ~/.local/share/ribo.
 */
export function resolveStoreRoot(options: { flag?: string; env: NodeJS.ProcessEnv; home: string }): string {
  if (options.flag) return path.resolve(options.flag);
  const fromEnv = options.env['RIBO_ROOT'];
  if (fromEnv) return path.resolve(fromEnv);
  const xdg = options.env['XDG_DATA_HOME'];
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'ribo');
  return path.join(options.home, '.local', 'share', 'ribo');
}
