/**
 * Inputs that used to hang ribo or end in an internal error (exit 70): servers
 * that never answer, archives with impossible owners, symlinks out of a build
 * context, redirects to file://, configs too big or too deep. Each must end
 * in a clear error naming the input, leave nothing in the store, and leave the
 * store usable by the next command.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
let exchange: string;

async function store(): Promise<string> {
  const dir = await makeStore();
  cleanups.push(() => removeStore(dir));
  return dir;
}

async function context(files: Record<string, string>): Promise<string> {
  const dir = await makeContext(files);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function taggedImages(root: string): Promise<unknown[]> {
  return JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8').catch(() => '{"manifests":[]}')).manifests;
}

/** A TCP server on a port of its own that accepts connections and does `onConnection` with them (nothing by default). */
async function startSilentServer(onConnection: (socket: net.Socket) => void = () => undefined): Promise<{ port: number; connections: () => number }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => count };
}

/** Answers the first request of each connection with headers and the start of a body, then says nothing more. */
const headersThenStall = (socket: net.Socket) => {
  socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"sch'));
};

const SHORT_LIMITS = { RIBO_CONNECT_TIMEOUT: '2', RIBO_IDLE_TIMEOUT: '1', RIBO_NETWORK_ATTEMPTS: '2' };

beforeAll(async () => {
  exchange = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-inputs-'));
  await chmod(exchange, 0o1777);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await rm(exchange, { recursive: true, force: true });
});

describe('servers that never answer', () => {
  it('a registry that accepts and never answers is given up after the idle limit, and the store stays usable', async () => {
    const server = await startSilentServer();
    const root = await store();
    const ref = `127.0.0.1:${server.port}/silent/app:1`;
    const result = await ribo(['pull', ref], { root, env: SHORT_LIMITS });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`https://127.0.0.1:${server.port}/v2/`);
    expect(result.stderr).toContain('the server sent nothing for 1 s (RIBO_IDLE_TIMEOUT)');
    expect(result.stderr).toContain('Tried 2 times');
    expect(server.connections()).toBe(2);
    expect(await taggedImages(root)).toEqual([]);
    await riboOk(['images'], { root });
  });

  it('a registry that sends headers and then stalls is given up too', async () => {
    const server = await startSilentServer(headersThenStall);
    const root = await store();
    const result = await ribo(['pull', `127.0.0.1:${server.port}/stall/app:1`], { root, env: SHORT_LIMITS });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${server.port}`);
    expect(result.stderr).toContain('RIBO_IDLE_TIMEOUT');
    expect(await taggedImages(root)).toEqual([]);
    await riboOk(['images'], { root });
  });

  it('an ADD URL whose server never answers ends the build with the URL, the line and the limit; the store is free', async () => {
    for (const behaviour of [undefined, headersThenStall]) {
      const server = await startSilentServer(behaviour);
      const root = await store();
      const url = `http://127.0.0.1:${server.port}/file.txt`;
      const ctx = await context({ Dockerfile: `FROM scratch\nADD ${url} /file.txt\n` });
      const result = await ribo(['build', '-q', '-t', 'never:1', ctx], { root, env: SHORT_LIMITS });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(url);
      expect(result.stderr).toMatch(/Dockerfile:2/);
      expect(result.stderr).toContain('the server sent nothing for 1 s (RIBO_IDLE_TIMEOUT)');
      expect(await taggedImages(root)).toEqual([]);
      // Nothing holds the store: a command that needs it exclusively runs at once.
      await riboOk(['prune', '--all'], { root });
      await riboOk(['images'], { root });
    }
  });

  it('a bad limit in the environment is a usage error naming the variable', async () => {
    const root = await store();
    const result = await ribo(['pull', '127.0.0.1:1/x:1'], { root, env: { RIBO_IDLE_TIMEOUT: 'soon' } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('RIBO_IDLE_TIMEOUT=soon');
  });
});
