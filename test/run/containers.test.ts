import { mkdtempSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { ContainerStore, type ContainerRecord } from '../../src/run/containers.js';
import { copyLog, LogWriter, parseLogTime } from '../../src/run/logs.js';
import { readFile, writeFile } from 'node:fs/promises';
import { parseSignal } from '../../src/run/signals.js';
import { protectContainerCommand } from '../../src/cli/commands/run.js';
import { UsageError } from '../../src/errors.js';
import { containerFields } from './support.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ribo-containers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(Buffer.from(chunk)), cb()) });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const fields = containerFields;

describe('container records', () => {
  const store = new ContainerStore(path.join(dir, 'containers'));
  let first: ContainerRecord;

  it('creates records with unique names and finds them by name, id or id prefix', async () => {
    first = await store.create(fields('web'));
    const second = await store.create(fields());
    expect(first.id).toMatch(/^[0-9a-f]{64}$/);
    expect(second.name).toMatch(/^[a-z]+_[a-z]+\d+$/);
    expect(first.status).toBe('created');
    expect((await store.find('web')).id).toBe(first.id);
    expect((await store.find(first.id)).name).toBe('web');
    expect((await store.find(first.id.slice(0, 10))).name).toBe('web');
    expect((await store.list()).map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
  });

  it('refuses a taken name, naming the container and ribo rm', async () => {
    await expect(store.create(fields('web'))).rejects.toThrow(/"web" is already in use by container [0-9a-f]{12} \(created\).*ribo rm web/);
    await expect(store.create(fields('bad name'))).rejects.toBeInstanceOf(UsageError);
  });

  it('says clearly when nothing matches', async () => {
    await expect(store.find('nosuch')).rejects.toThrow('No such container: nosuch');
  });

  it("gives a planned run's record, written without times, the time its dir was made", async () => {
    // As bin/run-plan.sh writes one: no created or startedAt (the shell does not run `date`).
    const made = await store.create(fields('planned'));
    const before = Date.now();
    await writeFile(path.join(store.dirOf(made.id), 'state.json'), JSON.stringify({ ...made, created: null, startedAt: null, status: 'running', pid: null }));
    const record = await store.read(made.id);
    const born = Date.parse(record.created);
    // The dir was made by create, just before: not the record's later write, nor now.
    expect(born).toBeLessThanOrEqual(before);
    expect(before - born).toBeLessThan(10_000);
    expect(record.startedAt).toBe(record.created);
    expect((await store.list()).find((r) => r.id === made.id)?.created).toBe(record.created);
    // A later update keeps it.
    expect((await store.update(made.id, { status: 'exited', exitCode: 0 })).created).toBe(record.created);
    expect(JSON.parse(await readFile(path.join(store.dirOf(made.id), 'state.json'), 'utf8')).created).toBe(record.created);
  });

  it('replaces a record atomically on update', async () => {
    const updated = await store.update(first.id, { status: 'exited', exitCode: 3 });
    expect(updated.exitCode).toBe(3);
    expect((await store.read(first.id)).status).toBe('exited');
  });
});

describe('container logs', () => {
  it('keeps each line with its stream and gives them back in order', async () => {
    const file = path.join(dir, 'c.log');
    const log = await LogWriter.open(file);
    const out = log.stream('stdout');
    const err = log.stream('stderr');
    await new Promise<void>((resolve) => out.write('first li', () => resolve()));
    await new Promise<void>((resolve) => out.write('ne\nsecond\n', () => resolve()));
    await new Promise<void>((resolve) => err.write('oops\n', () => resolve()));
    await new Promise<void>((resolve) => out.end('no newline', () => resolve()));
    await new Promise<void>((resolve) => err.end(() => resolve()));
    await log.close();
    const stdout = collector();
    const stderr = collector();
    const end = await copyLog(file, 0, stdout.stream, stderr.stream);
    expect(stdout.text()).toBe('first line\nsecond\nno newline');
    expect(stderr.text()).toBe('oops\n');
    // Reading on from the end gives nothing new.
    const more = collector();
    expect(await copyLog(file, end, more.stream, more.stream)).toBe(end);
    expect(more.text()).toBe('');
  });
});

describe('logs --since and --until', () => {
  const NOW = Date.parse('2026-11-23T12:00:00Z');

  it('reads times as docker does: durations back from now, Unix seconds, dates with or without a zone', () => {
    expect(parseLogTime('10m', NOW)).toBe(NOW - 600_000);
    expect(parseLogTime('1h30m', NOW)).toBe(NOW - 5_400_000);
    expect(parseLogTime('1.5s', NOW)).toBe(NOW - 1500);
    expect(parseLogTime('1700000000', NOW)).toBe(1_700_000_000_000);
    expect(parseLogTime('1700000000.25', NOW)).toBe(1_700_000_000_250);
    expect(parseLogTime('2026-11-23T11:00:00Z', NOW)).toBe(Date.parse('2026-11-23T11:00:00Z'));
    expect(parseLogTime('2026-11-23T11:00:00', NOW)).toBe(Date.parse('2026-11-23T11:00:00Z'));
    expect(parseLogTime('2026-11-23T13:00:00+02:00', NOW)).toBe(Date.parse('2026-11-23T11:00:00Z'));
    expect(parseLogTime('2026-11-23', NOW)).toBe(Date.parse('2026-11-23T00:00:00Z'));
    for (const bad of ['yesterday', '10x', '', '2026-13-45T99:00:00Z']) expect(parseLogTime(bad, NOW)).toBeUndefined();
  });

  it('keeps the lines written in the window, --tail counting only those', async () => {
    const file = path.join(dir, 'timed.log');
    const line = (log: string, time: string) => JSON.stringify({ log, stream: 'stdout', time }) + '\n';
    await writeFile(file, line('early\n', '2026-11-23T10:00:00.000Z') + line('middle\n', '2026-11-23T11:00:00.000Z') + line('middle2\n', '2026-11-23T11:30:00.000Z') + line('late\n', '2026-11-23T12:00:00.000Z'));
    const read = async (options: Parameters<typeof copyLog>[4]) => {
      const out = collector();
      await copyLog(file, 0, out.stream, out.stream, options);
      return out.text();
    };
    expect(await read({ sinceMs: Date.parse('2026-11-23T11:00:00Z') })).toBe('middle\nmiddle2\nlate\n');
    expect(await read({ untilMs: Date.parse('2026-11-23T11:30:00Z') })).toBe('early\nmiddle\nmiddle2\n');
    expect(await read({ sinceMs: Date.parse('2026-11-23T10:30:00Z'), untilMs: Date.parse('2026-11-23T11:45:00Z'), tail: 1 })).toBe('middle2\n');
  });
});

describe('signals', () => {
  it('accepts names with or without SIG and numbers', () => {
    expect(parseSignal('TERM', '-s')).toBe('SIGTERM');
    expect(parseSignal('sigkill', '-s')).toBe('SIGKILL');
    expect(parseSignal('1', '-s')).toBe('SIGHUP');
    expect(() => parseSignal('NOPE', '--signal')).toThrow(/Unknown signal "NOPE" \(from --signal\)/);
  });
});

describe('command lines', () => {
  it('ends ribo\'s options after the image (run) or the container (exec)', () => {
    expect(protectContainerCommand(['run', '-d', '--name', 'x', 'img', 'sh', '-c', 'exit 3'])).toEqual(['run', '-d', '--name', 'x', 'img', '--', 'sh', '-c', 'exit 3']);
    expect(protectContainerCommand(['--root', '/s', 'exec', '-e', 'A=1', '-i', 'web', 'ls', '-l'])).toEqual(['--root', '/s', 'exec', '-e', 'A=1', '-i', 'web', '--', 'ls', '-l']);
    expect(protectContainerCommand(['ps', '-a'])).toEqual(['ps', '-a']);
  });

  it('splits a short flag from the value attached to it, as docker takes it', () => {
    expect(protectContainerCommand(['run', '-eA=1', '-e=B=2', '-p8080:80', '-uroot', '-w/tmp', '-it', 'img', '-eX'])).toEqual(['run', '-e', 'A=1', '-e', 'B=2', '-p', '8080:80', '-u', 'root', '-w', '/tmp', '-it', 'img', '--', '-eX']);
    expect(protectContainerCommand(['exec', '-uapp', 'web', 'ls', '-la'])).toEqual(['exec', '-u', 'app', 'web', '--', 'ls', '-la']);
    // A value that starts like a flag stays the value of the flag before it.
    expect(protectContainerCommand(['run', '-e', '-x', 'img'])).toEqual(['run', '-e', '-x', 'img', '--']);
  });
});
