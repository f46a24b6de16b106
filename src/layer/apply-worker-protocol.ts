/**
 * The messages between a LayerUnpackWorker (apply-worker.ts) and its thread
 * (apply-worker-main.ts), and how an error crosses between them: a thread's
 * errors arrive as plain data, and are rebuilt here as the same class (the
 * layer errors, so `instanceof` and the message a user reads are unchanged)
 * or as an Error with the same errno fields (ENOSPC stays a full disk).
 */
import type { ApplyMode } from './apply.js';
import * as layerErrors from './errors.js';

export type ToWorker =
  | { type: 'start'; id: number; targetDir: string; mode: ApplyMode; expectedDiffID?: string; what: string }
  | { type: 'chunk'; id: number; chunk: ArrayBuffer; length: number }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; reason: string };

export type FromWorker =
  | { type: 'read'; id: number; bytes: number }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Own fields with plain values: code, errno, syscall, path, entryPath, expected, actual, exitCode… */
  fields: Record<string, string | number | boolean>;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  return { name: error.name, message: error.message, stack: error.stack, fields };
}

/** By exported name, which bundling keeps (a class's own name it may change). */
const LAYER_ERROR_CLASSES = new Map<string, { prototype: Error }>(Object.entries(layerErrors as Record<string, { prototype: unknown }>).filter((entry): entry is [string, { prototype: Error }] => entry[1].prototype instanceof Error));

export function rebuildError(data: SerializedError): Error {
  const cls = LAYER_ERROR_CLASSES.get(data.name);
  const error: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(data.message);
  Object.defineProperty(error, 'message', { value: data.message, writable: true, configurable: true, enumerable: false });
  if (data.stack) Object.defineProperty(error, 'stack', { value: data.stack, writable: true, configurable: true, enumerable: false });
  return Object.assign(error, data.fields);
}
