import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BuildLogs, KEPT_BUILDS, newBuildId, NoSuchBuildLogError } from '../../src/build/progress/build-logs.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ribo-build-logs-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function text(stream: NodeJS.ReadableStream | undefined): Promise<string | undefined> {
  if (!stream) return undefined;
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

it('keeps each step\'s whole output and the events without it', async () => {
  const logs = new BuildLogs(root);
  const id = newBuildId(new Date('2026-01-02T03:04:05Z'));
  expect(id).toMatch(/^20260102-030405-[0-9a-f]{4}$/);
  const recorder = await logs.record(id);
  const step = { stage: 's', index: 1, total: 2, instruction: 'RUN x', file: 'Dockerfile', line: 2 };
  recorder.report({ type: 'build-start', time: 1, dockerfile: 'Dockerfile', context: '.' });
  recorder.report({ type: 'step-start', time: 1, step: 1, ...step });
  recorder.report({ type: 'step-start', time: 1, step: 2, ...step, index: 2 });
  recorder.report({ type: 'step-log', time: 2, step: 1, stream: 'stdout', data: 'one ' });
  recorder.report({ type: 'step-log', time: 2, step: 2, stream: 'stderr', data: 'other\n' });
  recorder.report({ type: 'step-log', time: 3, step: 1, stream: 'stderr', data: 'two\n' });
  recorder.report({ type: 'step-done', time: 4, step: 1, durationMs: 3 });
  recorder.report({ type: 'step-failed', time: 5, step: 2, durationMs: 4, exitCode: 1, message: 'failed' });
  await recorder.close();
  expect(recorder.error).toBeUndefined();
  expect(recorder.failedStep).toBe(2);
  expect(await logs.resolve(undefined)).toBe(id);
  expect(await logs.resolve(id.slice(0, 10))).toBe(id);
  expect(await text(await logs.stepLog(id, 1))).toBe('one two\n');
  expect(await text(await logs.stepLog(id, 2))).toBe('other\n');
  expect(await logs.stepLog(id, 3)).toBeUndefined();
  expect((await logs.events(id)).map((e) => e.type)).toEqual(['build-start', 'step-start', 'step-start', 'step-done', 'step-failed']);
  expect(await readFile(path.join(root, 'builds', id, 'events.jsonl'), 'utf8')).not.toContain('step-log');
});

it(`keeps the last ${KEPT_BUILDS} builds`, async () => {
  const logs = new BuildLogs(root);
  const ids = Array.from({ length: KEPT_BUILDS + 3 }, (_, i) => newBuildId(new Date(Date.UTC(2026, 0, 1, 0, 0, i))));
  for (const id of ids) await (await logs.record(id)).close();
  expect(await logs.ids()).toEqual(ids.slice(3));
  expect((await readdir(path.join(root, 'builds'))).sort()).toEqual(ids.slice(3));
  expect(await logs.resolve(undefined)).toBe(ids[ids.length - 1]);
});

it('lists builds started in the same second in the order they started', async () => {
  const logs = new BuildLogs(root);
  const ids = ['20260101-000000-ffff', '20260101-000000-0000', '20260101-000000-8888'];
  for (const id of ids) {
    await (await logs.record(id)).close();
    // File times tick in steps of a few milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await (await logs.record('20260101-000001-0000')).close();
  expect(await logs.ids()).toEqual([...ids, '20260101-000001-0000']);
  expect(await logs.resolve(undefined)).toBe('20260101-000001-0000');
});

it('says which build ids exist when one is unknown or ambiguous', async () => {
  const logs = new BuildLogs(root);
  await expect(logs.resolve(undefined)).rejects.toThrow(NoSuchBuildLogError);
  await (await logs.record('20260101-000000-aaaa')).close();
  await (await logs.record('20260101-000001-bbbb')).close();
  await expect(logs.resolve('2026')).rejects.toThrow(/several build ids.*20260101-000000-aaaa/);
  await expect(logs.resolve('1999')).rejects.toThrow(/No kept build log has the id "1999".*--list/);
});

it('tells a writer to wait while a step log is backed up, and when it is through', async () => {
  const logs = new BuildLogs(root);
  const id = newBuildId();
  const recorder = await logs.record(id);
  expect(recorder.drained()).toBeUndefined();
  const big = 'z'.repeat(1024 * 1024);
  recorder.report({ type: 'step-log', time: 1, step: 1, stream: 'stdout', data: big });
  const backlog = recorder.drained();
  expect(backlog).toBeInstanceOf(Promise);
  await backlog;
  expect(recorder.drained()).toBeUndefined();
  await recorder.close();
  expect((await text(await logs.stepLog(id, 1)))?.length).toBe(big.length);
});
