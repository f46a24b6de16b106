import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { CredentialStore, Registries, TransferProgress } from '../registry/index.js';

/** Options every command that talks to a registry takes. */
export function withRegistryOptions(y: Argv): Argv {
  return y
    .option('tls-verify', { type: 'boolean', default: true, describe: 'Require https with a verified certificate (--tls-verify=false also allows plain http; loopback registries may always use http)' })
    .option('authfile', { type: 'string', describe: 'Credentials file (default: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else ~/.docker/config.json)' });
}

export function credentialStore(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): CredentialStore {
  return new CredentialStore(env, argv.authfile === undefined ? undefined : String(argv.authfile));
}

export function openRegistries(argv: Record<string, unknown>, env: NodeJS.ProcessEnv): Registries {
  return new Registries({ credentials: credentialStore(argv, env), tlsVerify: argv.tlsVerify !== false });
}

/** Progress on stderr: bars on a terminal, plain lines otherwise. */
export function stderrProgress(quiet = false): TransferProgress {
  return new TransferProgress(process.stderr, quiet);
}

/** "64M", "1MiB", "1048576" -> bytes. */
export function parseSize(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)$/i.exec(value.trim());
  if (!match) throw new UsageError(`${flag} ${value}: give a size in bytes, or with a unit: 512k, 64M, 1G.`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(match[1]) * unit);
}
