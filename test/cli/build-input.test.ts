import { describe, it, expect } from '@jest/globals';
import { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { contextArgument, readsStdin, resolveBuildInput, STDIN_DOCKERFILE } from '../../src/cli/build-input.js';
import { UsageError } from '../../src/errors.js';

const stdin = (data: string | Buffer) => Readable.from([typeof data === 'string' ? Buffer.from(data) : data]);

describe('where a build takes its Dockerfile and context from', () => {
  it('a positional "-" (which yargs parses as "") is told apart from the value of -f', () => {
    expect(contextArgument('', ['build', '-t', 'x', '-'])).toBe('-');
    expect(contextArgument('', ['build', '-f', '-', ''])).toBe('');
    expect(contextArgument('.', ['build', '-f', '-', '.'])).toBe('.');
    expect(readsStdin('-', undefined)).toBe(true);
    expect(readsStdin('.', '-')).toBe(true);
    expect(readsStdin('.', 'Dockerfile')).toBe(false);
  });

  it('- reads the Dockerfile from stdin, with no context', async () => {
    expect(await resolveBuildInput('-', 'ignored', stdin('FROM scratch\n'))).toEqual({ dockerfile: STDIN_DOCKERFILE, dockerfileText: 'FROM scratch\n' });
  });

  it('-f - reads the Dockerfile from stdin and keeps the context directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-input-'));
    try {
      expect(await resolveBuildInput(dir, '-', stdin('FROM scratch\n'))).toEqual({ contextDir: dir, dockerfile: STDIN_DOCKERFILE, dockerfileText: 'FROM scratch\n' });
      expect(await resolveBuildInput(dir, undefined, stdin(''))).toEqual({ contextDir: dir, dockerfile: path.join(dir, 'Dockerfile') });
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('refuses stdin for both, a missing context, and archives on stdin', async () => {
    await expect(resolveBuildInput('-', '-', stdin(''))).rejects.toThrow(UsageError);
    await expect(resolveBuildInput('', undefined, stdin(''))).rejects.toThrow(/needs a build context/);
    await expect(resolveBuildInput('-', undefined, stdin(Buffer.from([0x1f, 0x8b, 8, 0])))).rejects.toThrow(/stdin holds an archive/);
    const tarHeader = Buffer.alloc(1024);
    tarHeader.write('Dockerfile', 0);
    tarHeader.write('ustar', 257, 'latin1');
    await expect(resolveBuildInput('-', undefined, stdin(tarHeader))).rejects.toThrow(/stdin holds an archive/);
  });
});
