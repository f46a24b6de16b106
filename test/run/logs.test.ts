import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { copyLog, parseLogLine } from '../../src/run/logs.js';

describe('container logs', () => {
  it('reads ribo\'s JSON lines and conmon\'s k8s-file lines, full and partial, with a terminal\'s \\r', () => {
    expect(parseLogLine('{"log":"hi\\n","stream":"stdout","time":"2026-12-03T10:00:00.000Z"}')).toEqual({ log: 'hi\n', stream: 'stdout', time: '2026-12-03T10:00:00.000Z' });
    expect(parseLogLine('2026-12-03T10:49:11.720953974+00:00 stderr F oops')).toEqual({ log: 'oops\n', stream: 'stderr', time: '2026-12-03T10:49:11.720953974Z' });
    expect(parseLogLine('2026-12-03T10:49:11.720953974+00:00 stdout P part')).toEqual({ log: 'part', stream: 'stdout', time: '2026-12-03T10:49:11.720953974Z' });
    expect(parseLogLine('2026-12-03T10:49:11.720953974+00:00 stdout F tty line\r')?.log).toBe('tty line\r\n');
    expect(parseLogLine('2026-12-03T10:49:11.720953974+00:00 stdout F')?.log).toBe('\n');
    expect(parseLogLine('not a log line')).toBeUndefined();
  });

  it('gives each stream its lines back in order, and --since and --until select by time', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-logs-'));
    try {
      const file = path.join(dir, 'container.log');
      await writeFile(file, [
        '2026-12-03T10:00:01.000000001+00:00 stdout P one ',
        '2026-12-03T10:00:01.000000002+00:00 stdout F more',
        '2026-12-03T10:00:02.000000000+00:00 stderr F two',
        '2026-12-03T10:00:03.000000000+00:00 stdout F three',
        '',
      ].join('\n'));
      const collect = async (options = {}) => {
        const out = new PassThrough();
        const err = new PassThrough();
        await copyLog(file, 0, out, err, options);
        return { out: String(out.read() ?? ''), err: String(err.read() ?? '') };
      };
      expect(await collect()).toEqual({ out: 'one more\nthree\n', err: 'two\n' });
      expect(await collect({ sinceMs: Date.parse('2026-12-03T10:00:02Z'), untilMs: Date.parse('2026-12-03T10:00:02.5Z') })).toEqual({ out: '', err: 'two\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
