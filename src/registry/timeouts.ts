/**
 * Time limits of ribo's two HTTP clients (registries, and ADD of a URL): how
 * long a connection may take to open, how long a connection may stay silent
 * (waiting for the answer's headers or for more of its body), and how many
 * times an idempotent request is tried. The defaults are of docker's order of
 * magnitude (its registry client dials for at most 30 s); each can be set in
 * the environment, in seconds.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { UsageError } from '../errors.js';

export interface NetworkTimeouts {
  connectMs: number;
  idleMs: number;
  /** Tries of an idempotent request (GET, HEAD, a manifest PUT), the first included. */
  attempts: number;
}

export const TIMEOUT_VARIABLES = { connect: 'RIBO_CONNECT_TIMEOUT', idle: 'RIBO_IDLE_TIMEOUT', attempts: 'RIBO_NETWORK_ATTEMPTS' } as const;
export const DEFAULT_TIMEOUTS: NetworkTimeouts = { connectMs: 30_000, idleMs: 30_000, attempts: 3 };

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, integer: boolean): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${name}=${text} is not ${integer ? 'a whole number of tries above 0' : 'a number of seconds above 0'}; set it to one (e.g. ${name}=${integer ? fallback : fallback / 1000}) or unset it.`);
  }
  return integer ? value : Math.round(value * 1000);
}

/** The limits set in `env` (RIBO_CONNECT_TIMEOUT, RIBO_IDLE_TIMEOUT, RIBO_NETWORK_ATTEMPTS), else the defaults. */
export function networkTimeouts(env: NodeJS.ProcessEnv = process.env): NetworkTimeouts {
  return {
    connectMs: numberFrom(env, TIMEOUT_VARIABLES.connect, DEFAULT_TIMEOUTS.connectMs, false),
    idleMs: numberFrom(env, TIMEOUT_VARIABLES.idle, DEFAULT_TIMEOUTS.idleMs, false),
    attempts: numberFrom(env, TIMEOUT_VARIABLES.attempts, DEFAULT_TIMEOUTS.attempts, true),
  };
}

const seconds = (ms: number): string => `${ms / 1000} s`;

/** The error a request is destroyed with when a limit passes; transient (ETIMEDOUT), so it is tried again. */
export class NetworkTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly kind: 'connect' | 'idle', limitMs: number) {
    super(
      kind === 'connect'
        ? `the connection did not open within ${seconds(limitMs)} (${TIMEOUT_VARIABLES.connect})`
        : `the server sent nothing for ${seconds(limitMs)} (${TIMEOUT_VARIABLES.idle})`,
    );
  }
}

/**
 * Destroys `request` with a NetworkTimeoutError when its connection takes
 * longer than the connect limit to open, or stays silent for the idle limit
 * at any time until the answer has been read whole.
 */
export function applyTimeouts(request: ClientRequest, limits: NetworkTimeouts): void {
  // The answer is destroyed first so its reader sees why (else only "aborted").
  let response: IncomingMessage | undefined;
  request.once('response', (res: IncomingMessage) => (response = res));
  request.setTimeout(limits.idleMs, () => {
    const error = new NetworkTimeoutError('idle', limits.idleMs);
    response?.destroy(error);
    request.destroy(error);
  });
  request.once('socket', (socket: Socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => request.destroy(new NetworkTimeoutError('connect', limits.connectMs)), limits.connectMs);
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
    request.once('close', clear);
  });
}
