import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileInRoot, UnsafeImageFileError } from '../../src/files/read-in-root.js';

describe('readFileInRoot', () => {
  let root: string;
  const read = (file: string, maxBytes = 1024) => readFileInRoot(root, file, { maxBytes, what: "The image's file" });
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'ribo-read-in-root-'));
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'etc/real'), 'inside\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads a regular file, following links inside the root only', async () => {
    symlinkSync('/etc/real', path.join(root, 'etc/abs'));
    symlinkSync('../../../../../../etc/hostname', path.join(root, 'etc/up'));
    expect(await read('/etc/real')).toBe('inside\n');
    expect(await read('/etc/abs')).toBe('inside\n');
    // Resolves to ROOT/etc/hostname, which is not there: the host's file is never read.
    expect(await read('/etc/up')).toBeUndefined();
    expect(await read('/etc/missing')).toBeUndefined();
  });

  it('refuses a FIFO without blocking, a device and a file over the limit', async () => {
    execFileSync('mkfifo', [path.join(root, 'etc/fifo')]);
    await expect(read('/etc/fifo')).rejects.toThrow(/is not a regular file \(it is a FIFO\)/);
    await expect(readFileInRoot('/', '/dev/zero', { maxBytes: 1024, what: 'x' })).rejects.toThrow(/it is a character device/);
    writeFileSync(path.join(root, 'etc/big'), Buffer.alloc(2048, 0x61));
    await expect(read('/etc/big')).rejects.toThrow(UnsafeImageFileError);
    await expect(read('/etc/big')).rejects.toThrow(/larger than 1024 bytes/);
    expect(await read('/etc/big', 2048)).toHaveLength(2048);
  });
});
