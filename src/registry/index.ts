import { RegistryClient, type ClientOptions } from './client.js';
import { HttpTransport } from './http.js';

export { RegistryClient, type ClientOptions, withRetry } from './client.js';
export { CredentialStore, type Credentials } from './credentials.js';
export { RegistryAuthError, RegistryContentError, RegistryHttpError, RegistryNetworkError, ManifestUnknownError } from './errors.js';
export { TransferProgress, humanBytes, type ProgressOut } from './progress.js';
export { isLoopbackRegistry, registryOfLoginArg } from './reference.js';
export { pullImage, fetchBlob, parsePlatform, selectPlatform, MANIFEST_ACCEPT, type PullResult } from './pull.js';
export { pushImage, pushBlob, DEFAULT_CHUNK_SIZE, type PushResult } from './push.js';

/** The clients of one command: one connection pool, one client (with its tokens) per registry. */
export class Registries {
  private readonly transport: HttpTransport;
  private readonly clients = new Map<string, RegistryClient>();

  constructor(private readonly options: ClientOptions) {
    this.transport = new HttpTransport({ verifyTls: options.tlsVerify !== false });
  }

  client(registry: string): RegistryClient {
    let client = this.clients.get(registry);
    if (!client) {
      client = new RegistryClient(registry, this.options, this.transport);
      this.clients.set(registry, client);
    }
    return client;
  }

  close(): void {
    this.transport.close();
  }
}
