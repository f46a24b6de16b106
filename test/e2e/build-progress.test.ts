/**
 * What ribo build shows while it works, in each --progress mode, and the step
 * logs it keeps for afterwards (ribo build-log).
 */
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
import type { BuildEvent } from '../../src/build/progress/events.js';
import { finalScreen } from '../helpers/terminal-screen.js';
import { E2E_USER, makeContext, makeStore, PROJECT_ROOT, removeStore, ribo, riboOk } from './harness.js';
import { startRegistry } from '../setup/registry.js';

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV GREETING=hello
RUN echo "$GREETING from the build"; echo "to stderr" >&2; sleep 0.3
RUN printf 'no newline at the end'
`;

const stores: string[] = [];
let context: string;
let failing: string;

async function store(): Promise<string> {
  const dir = await makeStore();
  stores.push(dir);
  return dir;
}

beforeAll(async () => {
  context = await makeContext({ Dockerfile: DOCKERFILE }, 'hello');
  failing = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", "echo first words; i=0; while [ $i -lt 300 ]; do echo filler line $i; i=$((i+1)); done; echo last words; exit 7"]\n' }, 'hello');
});

afterAll(async () => {
  for (const dir of stores) await removeStore(dir);
  await execa('rm', ['-rf', context, failing]);
});

it('prints plain lines: each step, its RUN output and its time', async () => {
  const root = await store();
  const { stderr, stdout } = await riboOk(['build', '--progress=plain', '-t', 'progress', context], { root });
  const lines = stderr.split('\n');
  expect(lines).toContain('#1 [stage-0 1/5] COPY busybox /bin/busybox');
  expect(lines).toContain('#4 [stage-0 4/5] RUN echo "$GREETING from the build"; echo "to stderr" >&2; sleep 0.3');
  expect(lines).toContain('#4 hello from the build');
  expect(lines).toContain('#4 to stderr');
  expect(lines).toContain('#5 no newline at the end');
  for (const step of [1, 2, 3, 4, 5]) expect(lines.some((l) => new RegExp(`^#${step} DONE \\d+\\.\\ds`).test(l))).toBe(true);
  // The RUN that sleeps took at least that long.
  expect(Number(lines.find((l) => l.startsWith('#4 DONE'))!.match(/DONE (\d+\.\d)s/)![1])).toBeGreaterThanOrEqual(0.3);
  expect(lines.at(-1)).toMatch(new RegExp(`^Built ${stdout.trim()} in \\d+\\.\\ds, tagged progress:latest$`));
});

it('writes JSON events on stderr, one per line, for a fresh and for a cached build', async () => {
  const root = await store();
  const events = async (): Promise<{ events: BuildEvent[]; image: string }> => {
    const { stderr, stdout } = await riboOk(['build', '--progress=json', '-t', 'progress', context], { root });
    return { events: stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as BuildEvent), image: stdout.trim() };
  };
  const fresh = await events();
  // Output and commit progress come as they come; the rest is a fixed sequence.
  const shape = (list: BuildEvent[]) => list.filter((e) => e.type !== 'step-log' && e.type !== 'step-progress').map((e) => ('step' in e ? `${e.type} #${e.step}` : e.type));
  // A step's layer blob is written while the next steps run (build/commit.ts), so its step-done may come after
  // their step-start; the starts come in order, each done after its start, and all before build-done.
  const freshShape = shape(fresh.events);
  expect(freshShape.filter((e) => !e.startsWith('step-done'))).toEqual([
    'build-start', 'stage-start', 'step-start #1', 'step-start #2', 'step-start #3', 'step-start #4', 'step-start #5', 'build-done',
  ]);
  for (let step = 1; step <= 5; step++) {
    expect(freshShape.filter((e) => e === `step-done #${step}`)).toHaveLength(1);
    expect(freshShape.indexOf(`step-done #${step}`)).toBeGreaterThan(freshShape.indexOf(`step-start #${step}`));
    expect(freshShape.indexOf(`step-done #${step}`)).toBeLessThan(freshShape.indexOf('build-done'));
  }
  const start = fresh.events[0] as Extract<BuildEvent, { type: 'build-start' }>;
  expect(start.buildId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
  const logs = fresh.events.filter((e): e is Extract<BuildEvent, { type: 'step-log' }> => e.type === 'step-log' && e.step === 4);
  expect(logs.filter((e) => e.stream === 'stdout').map((e) => e.data).join('')).toBe('hello from the build\n');
  expect(logs.filter((e) => e.stream === 'stderr').map((e) => e.data).join('')).toBe('to stderr\n');
  const run = fresh.events.find((e) => e.type === 'step-start' && e.step === 4) as Extract<BuildEvent, { type: 'step-start' }>;
  expect(run).toMatchObject({ stage: 'stage-0', index: 4, total: 5, line: 5, file: path.join(context, 'Dockerfile') });
  const done = fresh.events.find((e) => e.type === 'step-done' && e.step === 4) as Extract<BuildEvent, { type: 'step-done' }>;
  expect(done.durationMs).toBeGreaterThanOrEqual(300);
  expect(done.layer?.digest).toMatch(/^sha256:/);
  expect(fresh.events.at(-1)).toMatchObject({ type: 'build-done', image: fresh.image, tags: ['progress:latest'] });

  const cached = await events();
  expect(shape(cached.events)).toEqual([
    'build-start', 'stage-start', 'step-cached #1', 'step-cached #2', 'step-start #3', 'step-done #3', 'step-cached #4', 'step-cached #5', 'build-done',
  ]);
  expect(cached.image).toBe(fresh.image);
});

it('draws a live view on a terminal that ends with each step and its time', async () => {
  const root = await store();
  const app = process.env.RIBO_E2E_APP ?? PROJECT_ROOT;
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const riboLine = [process.execPath, path.join(app, 'bin/ribo'), '--root', root, 'build', '-t', 'live', context].map(quote).join(' ');
  const inner = `stty cols 100 rows 40; ${riboLine}`;
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TERM: 'xterm' };
  // script(1) gives ribo a pseudo-terminal, so --progress=auto picks the live view.
  const result = E2E_USER && E2E_USER !== os.userInfo().username
    ? await execa('runuser', ['-u', E2E_USER, '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), `HOME=/tmp`, 'script', '-qec', inner, '/dev/null'], { reject: false, cwd: '/' })
    : await execa('script', ['-qec', inner, '/dev/null'], { reject: false, env });
  expect(result.exitCode).toBe(0);
  expect(result.stdout).toContain('\x1b[');
  const screen = finalScreen(String(result.stdout)).map((l) => l.trimEnd()).filter((l) => l !== '');
  const steps = screen.filter((l) => l.startsWith('#'));
  expect(steps).toHaveLength(5);
  expect(steps[0]).toMatch(/^#1 \[stage-0 1\/5\] COPY busybox \/bin\/busybox +\d+\.\ds$/);
  expect(steps[3]).toMatch(/^#4 \[stage-0 4\/5\] RUN echo .* +\d+\.\ds$/);
  for (const line of steps) expect(line).toMatch(/ \d+\.\ds$/);
  // Finished steps collapse: their output is not left on screen, nor any running step.
  expect(screen.some((l) => l.includes('hello from the build'))).toBe(false);
  expect(screen.some((l) => l.startsWith(' => '))).toBe(false);
  expect(screen.at(-2)).toMatch(/^Built sha256:[0-9a-f]{64} in \d+\.\ds, tagged live:latest$/);
  expect(screen.at(-1)).toMatch(/^sha256:[0-9a-f]{64}$/);
});

it('keeps each step\'s log after the build, and points at it when a step fails', async () => {
  const root = await store();
  await riboOk(['build', '--progress=plain', '-t', 'progress', context], { root });
  expect((await riboOk(['build-log', '--last', '4'], { root })).stdout).toBe('hello from the build\nto stderr');
  const whole = (await riboOk(['build-log'], { root })).stdout;
  expect(whole).toContain('#4 hello from the build');
  expect(whole).toMatch(/#5 DONE \d+\.\ds/);

  const result = await ribo(['build', '-q', '-t', 'failing', failing], { root });
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toBe('');
  const pointer = result.stderr.match(new RegExp(`\`ribo --root ${root} build-log (\\S+) (\\d+)\``));
  expect(pointer).not.toBeNull();
  expect(result.stderr).toContain('code 7');
  const log = (await riboOk(['build-log', pointer![1]!, pointer![2]!], { root })).stdout.split('\n');
  expect(log[0]).toBe('first words');
  // The whole output, however long: 300 filler lines between the first and last words.
  expect(log).toHaveLength(302);
  expect(log.at(-1)).toBe('last words');
  const list = (await riboOk(['build-log', '--list'], { root })).stdout.split('\n');
  expect(list[1]).toMatch(new RegExp(`^${pointer![1]}\\s+failed\\s`));
  expect(list[2]).toMatch(/\sdone\s.*progress:latest/);
});

it('tells of a base image pulled during the build as an event, keeping JSON output valid', async () => {
  const registry = await startRegistry();
  try {
    const source = await store();
    const base = `${registry.host}/e2e/progress-base:1`;
    const baseContext = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\n' }, 'hello');
    await riboOk(['build', '-q', '-t', base, baseContext], { root: source });
    await execa('rm', ['-rf', baseContext]);
    await riboOk(['push', base], { root: source });
    const target = await store();
    const ctx = await makeContext({ Dockerfile: `FROM ${base}\nRUN ["/bin/busybox", "echo", "on top"]\n` });
    try {
      const { stderr } = await riboOk(['build', '--progress=json', '-t', 'ontop', ctx], { root: target });
      const events = stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as BuildEvent);
      expect(events).toContainEqual(expect.objectContaining({ type: 'info', message: `Pulling ${base} (not in the store)` }));
      expect(events.at(-1)?.type).toBe('build-done');
    } finally {
      await execa('rm', ['-rf', ctx]);
    }
  } finally {
    await registry.stop();
  }
});
