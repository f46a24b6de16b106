import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { RegistryHttpError, RegistryNetworkError, RegistryRedirectError } from './errors.js';
import { applyTimeouts, networkTimeouts, type NetworkTimeouts } from './timeouts.js';
import { TlsTrust } from './tls-trust.js';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a function giving a fresh stream each time the request is sent. */
  body?: Buffer | (() => Readable);
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Unread; the caller must consume or destroy it. */
  body: IncomingMessage;
  url: URL;
}

const MAX_REDIRECTS = 5;

/**
 * HTTP(S) over Node's own modules with keep-alive connections, one transport
 * per command. Redirects of GET and HEAD are followed (blob storage often
 * lives elsewhere) to http(s) URLs only; the Authorization header is dropped
 * when the host changes. Connections are given up after the connect and idle
 * limits of timeouts.ts.
 */
export class HttpTransport {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent: https.Agent;
  private readonly trust = new TlsTrust();

  readonly timeouts: NetworkTimeouts;

  constructor(options: { verifyTls: boolean; timeouts?: NetworkTimeouts }) {
    this.timeouts = options.timeouts ?? networkTimeouts();
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: options.verifyTls });
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    let current = request;
    for (let hop = 0; ; hop += 1) {
      const response = await this.sendOnce(current);
      const location = response.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(response.status) && location && (current.method === 'GET' || current.method === 'HEAD');
      if (!redirect || hop >= MAX_REDIRECTS) return response;
      response.body.resume();
      const next = new URL(location, current.url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryRedirectError(current.method, current.url, next);
      const headers = { ...current.headers };
      if (next.host !== current.url.host) delete headers.authorization;
      current = { ...current, url: next, headers };
    }
  }

  private sendOnce(request: HttpRequest): Promise<HttpResponse> {
    const secure = request.url.protocol === 'https:';
    const module = secure ? https : http;
    const headers: Record<string, string> = { 'user-agent': 'ribo', ...request.headers };
    if (Buffer.isBuffer(request.body)) headers['content-length'] = String(request.body.length);
    else if (!request.body && ['POST', 'PUT', 'PATCH'].includes(request.method)) headers['content-length'] = '0';
    return new Promise((resolve, reject) => {
      const tls = secure ? { secureContext: this.trust.secureContext() } : {};
      const req = module.request(request.url, { method: request.method, headers, agent: secure ? this.httpsAgent : this.httpAgent, ...tls });
      applyTimeouts(req, this.timeouts);
      req.on('error', (error: NodeJS.ErrnoException) => reject(new RegistryNetworkError(request.method, request.url, error)));
      req.on('response', (res) => {
        res.on('error', () => undefined);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: request.url });
      });
      if (Buffer.isBuffer(request.body)) req.end(request.body);
      else if (request.body) {
        const source = request.body();
        source.on('error', (error) => req.destroy(error));
        source.pipe(req);
      } else req.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Reads a whole (small) response body, refusing more than `limit` bytes. */
export async function readBody(response: HttpResponse, limit = 8 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        response.body.destroy();
        throw new RegistryHttpError(response, `the response is larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    // A connection cut or silent in the middle of the answer: transient, like one that never answered.
    if (error instanceof RegistryHttpError) throw error;
    throw new RegistryNetworkError('Reading the answer to', response.url, error as NodeJS.ErrnoException);
  }
  return Buffer.concat(chunks);
}

/** The registry's error text from a failed response ({"errors":[{"code","message"}]}), best effort. */
export async function errorDetail(response: HttpResponse): Promise<string> {
  const text = (await readBody(response, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
    const first = parsed.errors?.[0];
    if (first) return [first.code, first.message].filter(Boolean).join(': ');
  } catch {
    // not JSON: fall through
  }
  return text.trim().slice(0, 200);
}
