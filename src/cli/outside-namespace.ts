import { Writable } from 'node:stream';
import type { MountDriver } from '../runtime/overlay.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { NeedsNamespaceError } from '../build/builder.js';

function unavailable(): never {
  throw new NeedsNamespaceError('mounting and running containers happen only inside ribo\'s namespace');
}

/**
 * What a cached-only build gets instead of a mount driver and runtime: it never
 * uses them (it stops at the first step it would have to run), and if it did,
 * it would get the same signal to build inside the namespace.
 */
export const outsideNamespace: { driver: MountDriver; runtime: OciRuntime; idCount: number } = {
  driver: { name: 'overlay', mount: unavailable, unmount: unavailable },
  runtime: new Proxy({}, { get: unavailable }) as OciRuntime,
  idCount: 0,
};

/** Collects text written to it, to be shown only if the attempt it belongs to succeeds. */
export class BufferedStream extends Writable {
  private readonly chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
