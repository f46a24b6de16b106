import { PassThrough } from 'node:stream';
import type { BuildEvent, StepInfo } from '../../src/build/progress/events.js';
import { createRenderer, parseProgressMode, resolveProgressMode } from '../../src/cli/progress/index.js';
import { JsonRenderer } from '../../src/cli/progress/json.js';
import { PlainRenderer } from '../../src/cli/progress/plain.js';
import { TtyRenderer } from '../../src/cli/progress/tty.js';
import { LineSplitter } from '../../src/cli/progress/format.js';
import { finalScreen } from '../helpers/terminal-screen.js';

const T0 = 1_700_000_000_000;

function info(step: number, index: number, instruction: string, stage = 'build'): StepInfo {
  return { step, stage, index, total: 4, instruction, file: '/ctx/Dockerfile', line: index + 1 };
}

/** A small build: a cached COPY, a RUN with output, a config step, and a failing RUN. */
function failingBuild(): BuildEvent[] {
  return [
    { type: 'build-start', time: T0, dockerfile: '/ctx/Dockerfile', context: '/ctx' },
    { type: 'warning', time: T0, message: 'MaintainerDeprecated: MAINTAINER is deprecated', file: '/ctx/Dockerfile', line: 2 },
    { type: 'stage-start', time: T0, stage: 'build', base: 'scratch' },
    { type: 'step-cached', time: T0 + 5, ...info(1, 1, 'COPY app /app') },
    { type: 'step-start', time: T0 + 10, ...info(2, 2, 'RUN make'), rebuildReason: 'changed: source main.c' },
    { type: 'step-log', time: T0 + 20, step: 2, stream: 'stdout', data: 'cc -c ma' },
    { type: 'step-log', time: T0 + 30, step: 2, stream: 'stdout', data: 'in.c\nlinking\n' },
    { type: 'step-log', time: T0 + 40, step: 2, stream: 'stderr', data: '10%\r50%\r100%\nno newline at end' },
    { type: 'step-done', time: T0 + 3210, step: 2, durationMs: 3200, layer: { digest: `sha256:${'ab'.repeat(32)}`, size: 2_400_000 } },
    { type: 'step-start', time: T0 + 3211, ...info(3, 3, 'ENV MODE=prod') },
    { type: 'step-done', time: T0 + 3211, step: 3, durationMs: 0 },
    { type: 'step-start', time: T0 + 3300, ...info(4, 4, 'RUN ./test.sh') },
    { type: 'step-log', time: T0 + 3400, step: 4, stream: 'stdout', data: 'test one ok\ntest two FAILED\n' },
    { type: 'step-failed', time: T0 + 4800, step: 4, durationMs: 1500, exitCode: 3, message: 'RUN exited with code 3' },
    { type: 'build-failed', time: T0 + 4801, durationMs: 4801, message: 'RUN exited with code 3' },
  ];
}

function successfulBuild(): BuildEvent[] {
  return [
    { type: 'build-start', time: T0, dockerfile: '/ctx/Dockerfile', context: '/ctx' },
    { type: 'step-cached', time: T0 + 5, ...info(1, 1, 'COPY app /app') },
    { type: 'step-start', time: T0 + 10, ...info(2, 2, 'RUN make') },
    { type: 'step-log', time: T0 + 20, step: 2, stream: 'stdout', data: 'built\n' },
    { type: 'step-done', time: T0 + 12_510, step: 2, durationMs: 12_500 },
    { type: 'step-start', time: T0 + 12_600, ...info(3, 3, 'RUN sleep 75') },
    { type: 'step-done', time: T0 + 87_600, step: 3, durationMs: 75_000 },
    { type: 'build-done', time: T0 + 87_700, image: `sha256:${'cd'.repeat(32)}`, tags: ['localhost/app:latest'], durationMs: 87_700 },
  ];
}

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

function feed(renderer: { report(e: BuildEvent): void }, events: BuildEvent[]): void {
  for (const event of events) renderer.report(event);
}

describe('plain progress', () => {
  it('prints each step with its number, its output line by line, and its time', () => {
    const out = collect();
    feed(new PlainRenderer(out.stream), failingBuild());
    expect(out.text().split('\n')).toEqual([
      'WARNING: MaintainerDeprecated: MAINTAINER is deprecated (/ctx/Dockerfile:2)',
      '#1 [build 1/4] CACHED COPY app /app',
      '#2 [build 2/4] RUN make (rebuilding: changed: source main.c)',
      '#2 cc -c main.c',
      '#2 linking',
      '#2 100%',
      '#2 no newline at end',
      '#2 DONE 3.2s (layer abababababab, 2.4MB)',
      '#3 [build 3/4] ENV MODE=prod',
      '#3 DONE 0.0s',
      '#4 [build 4/4] RUN ./test.sh',
      '#4 test one ok',
      '#4 test two FAILED',
      '#4 ERROR after 1.5s: exit code 3',
      '',
    ]);
  });

  it('keeps the lines of steps running at the same time apart, and ends with the image', () => {
    const out = collect();
    feed(new PlainRenderer(out.stream), [
      { type: 'step-start', time: T0, ...info(1, 1, 'RUN left', 'left') },
      { type: 'step-start', time: T0, ...info(2, 1, 'RUN right', 'right') },
      { type: 'step-log', time: T0, step: 1, stream: 'stdout', data: 'le' },
      { type: 'step-log', time: T0, step: 2, stream: 'stdout', data: 'right\n' },
      { type: 'step-log', time: T0, step: 1, stream: 'stdout', data: 'ft\n' },
      { type: 'step-done', time: T0, step: 2, durationMs: 61_000 },
      { type: 'step-done', time: T0, step: 1, durationMs: 100 },
      { type: 'build-done', time: T0, image: 'sha256:1234', tags: ['a:1', 'a:2'], durationMs: 61_500 },
    ]);
    expect(out.text()).toBe(
      ['#1 [left 1/4] RUN left', '#2 [right 1/4] RUN right', '#2 right', '#1 left', '#2 DONE 1m01s', '#1 DONE 0.1s', 'Built sha256:1234 in 1m01s, tagged a:1, a:2', ''].join('\n'),
    );
  });
});

describe('json progress', () => {
  it('writes one JSON event per line, in order, output included', () => {
    const out = collect();
    const events = failingBuild();
    feed(new JsonRenderer(out.stream), events);
    const lines = out.text().trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(events);
  });
});

describe('tty progress', () => {
  function terminal(columns = 80, rows = 24) {
    let text = '';
    return { columns, rows, write: (s: string) => (text += s), text: () => text };
  }

  it('leaves every step with its time on the final screen, and no running step', () => {
    const term = terminal();
    const renderer = new TtyRenderer(term, { refreshMs: 0, now: () => T0 + 90_000 });
    feed(renderer, successfulBuild());
    const screen = finalScreen(term.text()).map((l) => l.trimEnd());
    expect(screen).toHaveLength(4);
    expect(screen[0]).toMatch(/^#1 \[build 1\/4\] CACHED COPY app \/app +0\.0s$/);
    expect(screen[1]).toMatch(/^#2 \[build 2\/4\] RUN make +12\.5s$/);
    expect(screen[2]).toMatch(/^#3 \[build 3\/4\] RUN sleep 75 +1m15s$/);
    expect(screen[3]).toBe(`Built sha256:${'cd'.repeat(32)} in 1m27s, tagged localhost/app:latest`);
    for (const line of screen.slice(0, 3)) expect(line).toHaveLength(79);
  });

  it('shows running steps with their elapsed time and last lines of output', () => {
    const term = terminal();
    let now = T0;
    const renderer = new TtyRenderer(term, { refreshMs: 0, tailLines: 2, now: () => now });
    feed(renderer, [
      { type: 'build-start', time: T0, dockerfile: '/ctx/Dockerfile', context: '/ctx' },
      { type: 'step-start', time: T0, ...info(1, 1, 'RUN apt-get install -y gcc', 'left') },
      { type: 'step-start', time: T0 + 1000, ...info(2, 1, 'RUN make', 'right') },
      { type: 'step-log', time: T0, step: 1, stream: 'stdout', data: 'one\ntwo\nthree\n\x1b[31mred\x1b[0m\tdone\n' },
    ]);
    now = T0 + 4200;
    renderer.report({ type: 'step-progress', time: now, step: 2, phase: 'committing', bytes: 5_300_000 });
    const screen = finalScreen(term.text());
    expect(screen).toEqual([
      expect.stringMatching(/^ => #1 \[left 1\/4\] RUN apt-get install -y gcc +4\.2s$/),
      '    three',
      '    red  done',
      expect.stringMatching(/^ => #2 \[right 1\/4\] RUN make +committing 5\.3MB 3\.2s$/),
    ]);
    renderer.report({ type: 'step-done', time: now, step: 1, durationMs: 4200 });
    expect(finalScreen(term.text())).toEqual([expect.stringMatching(/^#1 \[left 1\/4\] RUN apt-get install -y gcc +4\.2s$/), expect.stringMatching(/^ => #2 .* 3\.2s$/)]);
    renderer.close();
  });

  it('keeps live lines within the terminal width so redraws stay in place', () => {
    const term = terminal(40, 10);
    const renderer = new TtyRenderer(term, { refreshMs: 0, now: () => T0 + 1500 });
    renderer.report({ type: 'step-start', time: T0, ...info(1, 1, `RUN echo ${'x'.repeat(100)}`) });
    renderer.report({ type: 'step-log', time: T0, step: 1, stream: 'stdout', data: `${'y'.repeat(100)}\n` });
    const screen = finalScreen(term.text());
    expect(screen).toHaveLength(2);
    for (const line of screen) expect(line.length).toBeLessThanOrEqual(39);
    expect(screen[0]).toMatch(/… +1\.5s$/);
    renderer.close();
  });

  it('leaves a failed step and the end of its output on screen', () => {
    const term = terminal();
    feed(new TtyRenderer(term, { refreshMs: 0 }), failingBuild());
    const screen = finalScreen(term.text()).map((l) => l.trimEnd());
    expect(screen[0]).toBe('WARNING: MaintainerDeprecated: MAINTAINER is deprecated (/ctx/Dockerfile:2)');
    expect(screen[2]).toMatch(/^#2 \[build 2\/4\] RUN make \(rebuilding: changed: source main\.c\) +3\.2s$/);
    expect(screen[3]).toMatch(/^#3 \[build 3\/4\] ENV MODE=prod +0\.0s$/);
    expect(screen[4]).toMatch(/^#4 \[build 4\/4\] RUN \.\/test\.sh +ERROR 1\.5s \(exit code 3\)$/);
    expect(screen.slice(5)).toEqual(['  > test one ok', '  > test two FAILED']);
  });
});

describe('choosing a renderer', () => {
  it('picks the live view on a terminal and plain lines elsewhere', () => {
    expect(resolveProgressMode('auto', { isTTY: true }, { TERM: 'xterm' })).toBe('tty');
    expect(resolveProgressMode('auto', { isTTY: true }, { TERM: 'dumb' })).toBe('plain');
    expect(resolveProgressMode('auto', { isTTY: false }, {})).toBe('plain');
    expect(resolveProgressMode('json', { isTTY: true }, {})).toBe('json');
    expect(createRenderer('plain', new PassThrough())).toBeInstanceOf(PlainRenderer);
  });

  it('rejects an unknown mode and names the choices', () => {
    expect(() => parseProgressMode('fancy')).toThrow(/--progress=fancy.*auto, tty, plain, json/);
  });
});

describe('splitting output into lines', () => {
  it('keeps only the last state of a line redrawn with carriage returns, across chunks', () => {
    const lines = new LineSplitter();
    expect(lines.push('start\n')).toEqual(['start']);
    for (let i = 0; i <= 100; i++) expect(lines.push(`\r${i}%`)).toEqual([]);
    expect(lines.peek()).toBe('100%');
    expect(lines.push(' done\r')).toEqual([]);
    expect(lines.push('\nnext')).toEqual(['100% done']);
    expect(lines.flush()).toEqual(['next']);
    expect(lines.flush()).toEqual([]);
  });

  it('cuts a line that never ends into pieces instead of keeping it whole', () => {
    const lines = new LineSplitter();
    const chunk = 'x'.repeat(40 * 1024);
    expect(lines.push(chunk)).toEqual([]);
    expect(lines.push(chunk)).toEqual([chunk + chunk]);
    expect(lines.flush()).toEqual([]);
  });
});
