import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { CredentialStore, Registries, RegistryHttpError, RegistryNetworkError } from '../../src/registry/index.js';

/** Which scheme ribo finds a loopback registry's API on, and what it says when it finds none. */
describe('the API of a loopback registry', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  const listen = async (server: net.Server): Promise<string> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  const ping = (registry: string) => {
    const registries = new Registries({ credentials: new CredentialStore({ HOME: '/nonexistent' }, '/nonexistent/auth.json') });
    closers.push(async () => registries.close());
    return registries.client(registry).ping();
  };

  it('is asked over plain http first: a plain-http registry sees one connection, no TLS handshake', async () => {
    const firstBytes: string[] = [];
    const server = http.createServer((request, response) => {
      response.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' });
      response.end('{}');
    });
    server.on('connection', (socket) => socket.once('data', (chunk: Buffer) => firstBytes.push(chunk.subarray(0, 3).toString('latin1'))));
    await ping(await listen(server));
    expect(firstBytes).toEqual(['GET']);
  });

  it('goes on to https when plain http is answered as an https port answers it, and reports the https failure', async () => {
    // What Go's TLS server (docker-registry's) sends to anything that is not TLS, a ClientHello included.
    const server = net.createServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n'));
      socket.on('error', () => undefined);
    });
    const registry = await listen(server);
    const error: unknown = await ping(registry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryNetworkError);
    expect((error as Error).message).toContain(`https://${registry}/v2/`);
  });

  it('reports a web server that is not a registry by its answer, not by the https attempt', async () => {
    const server = http.createServer((request, response) => {
      response.writeHead(404);
      response.end('not here');
    });
    const registry = await listen(server);
    const error: unknown = await ping(registry).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect((error as Error).message).toContain(`answered 404 to http://${registry}/v2/`);
    expect((error as Error).message).toContain('does not look like an OCI registry');
  });
});
