import { RiboError } from '../../src/errors.js';
import { asDiskFull, DiskFullError } from '../../src/files/disk-full.js';

function systemError(code: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, write`), { code, ...(path ? { path } : {}) });
}

describe('asDiskFull', () => {
  it('turns ENOSPC into a message naming what was written, the store and the fix', () => {
    const error = asDiskFull(systemError('ENOSPC'), 'index.json', '/home/me/.local/share/ribo');
    expect(error).toBeInstanceOf(DiskFullError);
    expect((error as DiskFullError).exitCode).toBe(1);
    expect((error as Error).message).toContain('Cannot write index.json: no space is left on the device (ENOSPC)');
    expect((error as Error).message).toContain('The image store is /home/me/.local/share/ribo.');
    expect((error as Error).message).toContain('`ribo prune`');
  });

  it('finds the errno inside a wrapping error, names the path the system call named, and knows EDQUOT', () => {
    const wrapped = new RiboError('step failed', { cause: systemError('EDQUOT', '/store/tmp/x/upper/file') });
    const error = asDiskFull(wrapped, undefined) as Error;
    expect(error.message).toContain('Cannot write /store/tmp/x/upper/file: the disk quota is exhausted (EDQUOT)');
    expect(error.message).not.toContain('The image store is');
  });

  it('leaves other errors alone', () => {
    const other = systemError('EACCES', '/x');
    expect(asDiskFull(other, 'x', '/store')).toBe(other);
  });
});
