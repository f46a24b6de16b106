import type { Snapshotter } from '../snapshot/index.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { NeedsNamespaceError } from '../build/builder.js';
import type { BuildEvent, BuildReporter } from '../build/progress/events.js';

function unavailable(): never {
  throw new NeedsNamespaceError('mounting and running containers happen only inside ribo\'s namespace');
}

/**
 * What a cached-only build gets instead of a snapshotter and runtime: it never
 * uses them (it stops at the first step it would have to run), and if it did,
 * it would get the same signal to build inside the namespace.
 */
export const outsideNamespace: { driver: Snapshotter; runtime: OciRuntime; idCount: number } = {
  // No implementation is chosen outside the namespace, so none is named.
  driver: { driver: undefined, capabilities: undefined, prepare: unavailable, view: unavailable },
  runtime: new Proxy({}, { get: unavailable }) as OciRuntime,
  idCount: 0,
};

/** Keeps the events of an attempt, to be passed on only if the attempt succeeds. */
export class BufferedReporter implements BuildReporter {
  private readonly events: BuildEvent[] = [];

  report(event: BuildEvent): void {
    this.events.push(event);
  }

  replay(to: BuildReporter): void {
    for (const event of this.events) to.report(event);
  }
}
