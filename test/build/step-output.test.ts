import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BuildEvent } from '../../src/build/progress/events.js';
import { stepOutputStream } from '../../src/build/progress/step-output.js';

it('turns chunks into step-log events, keeping a character split between chunks whole', async () => {
  const events: BuildEvent[] = [];
  const euro = Buffer.from('€');
  const chunks = [Buffer.from('price: '), euro.subarray(0, 1), euro.subarray(1), Buffer.from('5\n')];
  await pipeline(Readable.from(chunks), stepOutputStream({ report: (e) => events.push(e) }, 7, 'stderr'));
  expect(events.every((e) => e.type === 'step-log' && e.step === 7 && e.stream === 'stderr')).toBe(true);
  expect(events.map((e) => (e.type === 'step-log' ? e.data : '')).join('')).toBe('price: €5\n');
});

it('takes the next chunk only once a backed-up reporter has drained', async () => {
  const seen: string[] = [];
  let release: () => void = () => {};
  let backedUp = true;
  const reporter = {
    report: (e: BuildEvent) => {
      if (e.type === 'step-log') seen.push(e.data);
    },
    drained: () => (backedUp ? new Promise<void>((resolve) => (release = resolve)) : undefined),
  };
  const stream = stepOutputStream(reporter, 1, 'stdout');
  const first = new Promise<void>((resolve) => stream.write('one', () => resolve()));
  let firstDone = false;
  void first.then(() => (firstDone = true));
  await new Promise((resolve) => setImmediate(resolve));
  expect(seen).toEqual(['one']);
  expect(firstDone).toBe(false);
  backedUp = false;
  release();
  await first;
  stream.write('two');
  stream.end();
  await new Promise((resolve) => stream.on('finish', resolve));
  expect(seen).toEqual(['one', 'two']);
});
