import http from 'node:http';
import net from 'node:net';
import { HttpTransport, readBody } from '../../src/registry/http.js';
import { RegistryNetworkError } from '../../src/registry/errors.js';
import { DEFAULT_TIMEOUTS, networkTimeouts } from '../../src/registry/timeouts.js';

describe('networkTimeouts', () => {
  it('gives the defaults, and reads seconds and tries from the environment', () => {
    expect(networkTimeouts({})).toEqual(DEFAULT_TIMEOUTS);
    expect(networkTimeouts({ RIBO_CONNECT_TIMEOUT: '2.5', RIBO_IDLE_TIMEOUT: '7', RIBO_NETWORK_ATTEMPTS: '1' })).toEqual({ connectMs: 2500, idleMs: 7000, attempts: 1 });
  });

  it('refuses values that are not positive numbers, naming the variable', () => {
    expect(() => networkTimeouts({ RIBO_IDLE_TIMEOUT: '-1' })).toThrow(/RIBO_IDLE_TIMEOUT=-1 is not a number of seconds above 0/);
    expect(() => networkTimeouts({ RIBO_NETWORK_ATTEMPTS: '1.5' })).toThrow(/RIBO_NETWORK_ATTEMPTS=1.5 is not a whole number of tries/);
  });
});

describe('HttpTransport time limits', () => {
  const servers: net.Server[] = [];
  afterAll(() => servers.forEach((server) => server.close()));

  async function serve(onConnection: (socket: net.Socket) => void): Promise<number> {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      onConnection(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  const limits = { connectMs: 2000, idleMs: 300, attempts: 1 };

  it('gives up on a server that never answers, with the URL and the idle limit', async () => {
    const port = await serve(() => undefined);
    const transport = new HttpTransport({ verifyTls: true, timeouts: limits });
    const sent = transport.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/v2/`) });
    await expect(sent).rejects.toThrow(RegistryNetworkError);
    await expect(sent).rejects.toThrow(`GET http://127.0.0.1:${port}/v2/ failed: the server sent nothing for 0.3 s (RIBO_IDLE_TIMEOUT)`);
    transport.close();
  });

  it('gives up on a body that stalls, as a transient network error', async () => {
    const port = await serve((socket) => socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{')));
    const transport = new HttpTransport({ verifyTls: true, timeouts: limits });
    const response = await transport.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/x`) });
    const read = readBody(response);
    await expect(read).rejects.toThrow(/the server sent nothing for 0.3 s/);
    await expect(read).rejects.toMatchObject({ transient: true });
    transport.close();
  });

  it('refuses a redirect to file://', async () => {
    const server = http.createServer((_request, response) => response.writeHead(302, { location: 'file:///etc/passwd' }).end());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const transport = new HttpTransport({ verifyTls: true, timeouts: limits });
    await expect(transport.send({ method: 'GET', url: new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/a`) })).rejects.toThrow(/to file:\/\/\/etc\/passwd, which is not an http\(s\) URL/);
    transport.close();
  });
});
