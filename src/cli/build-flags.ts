import { statSync } from 'node:fs';
import path from 'node:path';
import type { SecretSource } from '../build/run-mounts.js';
import { parsePlatform, type Platform } from '../dockerfile/index.js';
import { UsageError } from '../errors.js';
import { asList } from './options.js';

/**
 * `--secret id=ID[,src=FILE | ,env=VARIABLE][,type=file|env]`, as docker build
 * takes it. With neither src nor env, the variable named ID is used when set,
 * else a file named ID (BuildKit's rule).
 */
export function parseSecrets(values: string[], env: NodeJS.ProcessEnv): Map<string, SecretSource> {
  const secrets = new Map<string, SecretSource>();
  for (const value of values) {
    const fields = new Map<string, string>();
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UsageError(`--secret ${value}: each part is KEY=VALUE, e.g. --secret id=npmrc,src=$HOME/.npmrc or --secret id=token,env=API_TOKEN.`);
      fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1));
    }
    const id = fields.get('id');
    if (!id) throw new UsageError(`--secret ${value}: give the secret's id, e.g. --secret id=token,env=API_TOKEN.`);
    const type = fields.get('type');
    if (type !== undefined && type !== 'file' && type !== 'env') throw new UsageError(`--secret ${value}: type must be file or env.`);
    const file = fields.get('src') ?? fields.get('source');
    const variable = fields.get('env');
    if (file !== undefined && variable !== undefined) throw new UsageError(`--secret ${value}: give src= or env=, not both.`);
    if (file !== undefined || type === 'file') secrets.set(id, { file: path.resolve(file ?? id) });
    else if (variable !== undefined || type === 'env') secrets.set(id, { env: variable ?? id });
    else secrets.set(id, env[id] !== undefined ? { env: id } : { file: path.resolve(id) });
  }
  return secrets;
}

/**
 * `--ssh default|ID[=SOCKET]`, as docker build takes it: an SSH agent for RUN
 * --mount=type=ssh. Without a SOCKET, the agent of $SSH_AUTH_SOCK. docker
 * also takes key files (ID=KEY[,KEY]), which ribo refuses: it forwards agents.
 */
export function parseSshAgents(values: string[], env: NodeJS.ProcessEnv): Map<string, string> {
  const agents = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const id = eq < 0 ? value : value.slice(0, eq);
    if (!id || !/^[A-Za-z0-9._-]+$/.test(id)) throw new UsageError(`--ssh ${value}: expected default or ID[=SOCKET], e.g. --ssh default or --ssh github=$SSH_AUTH_SOCK.`);
    const given = eq < 0 ? undefined : value.slice(eq + 1);
    if (given === undefined && !env.SSH_AUTH_SOCK) throw new UsageError(`--ssh ${value}: SSH_AUTH_SOCK is not set, so there is no agent to forward; start one (eval $(ssh-agent); ssh-add) or give its socket: --ssh ${id}=SOCKET.`);
    const socket = path.resolve(given ?? env.SSH_AUTH_SOCK!);
    const stats = statSync(socket, { throwIfNoEntry: false });
    if (!stats) throw new UsageError(`--ssh ${value}: ${socket} does not exist; give the socket of a running SSH agent (its SSH_AUTH_SOCK).`);
    if (!stats.isSocket()) throw new UsageError(`--ssh ${value}: ${socket} is not an agent's socket; ribo forwards SSH agents, not key files: add the key to an agent (ssh-add ${given ?? socket}) and give --ssh ${id}.`);
    agents.set(id, socket);
  }
  return agents;
}

/** `--network host|none|default` for RUN steps; default is the host's network, ribo has no private one for builds. */
export function parseBuildNetwork(value: unknown): 'host' | 'none' {
  const network = value === undefined ? 'default' : String(value);
  if (network === 'host' || network === 'default') return 'host';
  if (network === 'none') return 'none';
  throw new UsageError(`--network ${network}: RUN steps can use host (the default) or none.`);
}

/**
 * `--platform A[,B...]`: the platforms to build for, each normalised as
 * BuildKit does (x86_64 is amd64, linux/arm64/v8 is linux/arm64); none given:
 * this machine's alone.
 */
export function parseBuildPlatforms(value: unknown): Platform[] {
  if (value === undefined) return [];
  const texts = asList(value).flatMap((v) => v.split(',')).map((p) => p.trim()).filter((p) => p !== '');
  if (texts.length === 0) throw new UsageError(`--platform ${String(value)}: give OS/ARCH[/VARIANT], e.g. linux/arm64, or several separated by commas.`);
  return texts.map((text) => {
    if (text.split('/').length > 3 || text.split('/').some((part) => part === '')) {
      throw new UsageError(`--platform ${text}: give OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7.`);
    }
    return parsePlatform(text);
  });
}

/** `--platform` of a command that takes one platform (run, inspect, save, import). */
export function onePlatform(value: unknown): Platform {
  const platforms = parseBuildPlatforms(value);
  if (platforms.length !== 1) throw new UsageError(`--platform ${String(value)}: give one platform, e.g. --platform linux/arm64.`);
  return platforms[0]!;
}
