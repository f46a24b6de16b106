import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { BuildReporter } from './events.js';

/**
 * A stream a RUN step's stdout or stderr is piped into: each chunk becomes a
 * step-log event. The decoder keeps a UTF-8 character split across two chunks
 * whole.
 */
export function stepOutputStream(reporter: BuildReporter, step: number, stream: 'stdout' | 'stderr'): Writable {
  const decoder = new StringDecoder('utf8');
  const emit = (data: string) => {
    if (data) reporter.report({ type: 'step-log', time: Date.now(), step, stream, data });
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      emit(decoder.write(chunk));
      const backlog = reporter.drained?.();
      if (backlog) backlog.then(() => callback(), callback);
      else callback();
    },
    final(callback) {
      emit(decoder.end());
      callback();
    },
  });
}
