/**
 * Signals sent to a foreground ribo (Ctrl-C without raw mode, kill, a
 * closed terminal) go on to its container through the OCI runtime, as
 * docker run's signal proxy does. A signal that comes before the
 * container's process exists is sent once it does. A TERM is how ribo
 * itself is stopped: as `ribo stop` does, the container gets it, then KILL
 * if it is still there after the grace period.
 */
import type { OciRuntime } from '../runtime/oci-runtime.js';

/** How long a container may take to end after ribo passed it a SIGTERM sent to ribo, before it is killed (docker stop's default). */
const TERM_GRACE_MS = 10_000;

/** Signals ribo passes on to the container while it supervises it. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export interface SignalForwarding {
  /** The container's process exists: a signal held back is sent now, later ones at once. */
  running(): void;
  /** Stops listening (the container ended). */
  stop(): void;
}

/** Starts passing ribo's signals to the runtime's container `runtimeId`. */
export function forwardSignals(runtime: OciRuntime, runtimeId: string): SignalForwarding {
  let running = false;
  let pending: NodeJS.Signals | undefined;
  let escalation: NodeJS.Timeout | undefined;
  const forward = (signal: NodeJS.Signals) => () => {
    if (signal === 'SIGTERM' && !escalation) {
      escalation = setTimeout(() => void runtime.kill(runtimeId, 'KILL'), TERM_GRACE_MS);
      escalation.unref();
    }
    if (running) void runtime.kill(runtimeId, signal);
    else pending = signal;
  };
  const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return {
    running: () => {
      running = true;
      if (pending) void runtime.kill(runtimeId, pending);
    },
    stop: () => {
      clearTimeout(escalation);
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}
