import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createFileIfAbsent, hiddenTempPathBeside, removeStaleTempsBeside, replaceFileAtomic, tempPathBeside, writeFileAtomic } from '../../src/files/atomic-write.js';

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ribo-atomic-'));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes a new file and replaces an existing one, leaving no temp file', async () => {
    const target = path.join(dir, 'state.json');
    await writeFileAtomic(target, '{"a":1}\n');
    expect(await fs.readFile(target, 'utf8')).toBe('{"a":1}\n');
    await writeFileAtomic(target, Buffer.from('second'));
    expect(await fs.readFile(target, 'utf8')).toBe('second');
    expect(await fs.readdir(dir)).toEqual(['state.json']);
  });

  it('gives the new file the mode asked for, whatever the old one had', async () => {
    const target = path.join(dir, 'auth.json');
    await fs.writeFile(target, 'old', { mode: 0o644 });
    await writeFileAtomic(target, 'secret', { mode: 0o600 });
    expect((await fs.stat(target)).mode & 0o777).toBe(0o600);
    expect(await fs.readFile(target, 'utf8')).toBe('secret');
  });

  it('writes with fsync and through a temp path chosen by the caller', async () => {
    const target = path.join(dir, 'index.json');
    const tempDir = path.join(dir, 'ingest');
    await fs.mkdir(tempDir);
    await writeFileAtomic(target, 'flushed', { fsync: true, tempPath: path.join(tempDir, 'index-1'), mode: 0o644 });
    expect(await fs.readFile(target, 'utf8')).toBe('flushed');
    expect(await fs.readdir(tempDir)).toEqual([]);
  });

  it('leaves the old file and no temp file when the rename fails', async () => {
    // A directory in the target's place: rename(2) of a file over it fails.
    const target = path.join(dir, 'taken');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'inside'), 'kept');
    await expect(writeFileAtomic(target, 'new')).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await fs.readdir(dir)).toEqual(['taken']);
    expect(await fs.readFile(path.join(target, 'inside'), 'utf8')).toBe('kept');
  });

  it('keeps every one of many concurrent writers whole', async () => {
    const target = path.join(dir, 'record');
    const contents = Array.from({ length: 20 }, (_, i) => `writer ${i} `.repeat(1000));
    await Promise.all(contents.map((text) => writeFileAtomic(target, text)));
    expect(contents).toContain(await fs.readFile(target, 'utf8'));
    expect(await fs.readdir(dir)).toEqual(['record']);
  });
});

describe('replaceFileAtomic', () => {
  it('leaves the target untouched and removes the temp file when filling fails midway', async () => {
    const target = path.join(dir, 'archive.tar');
    await fs.writeFile(target, 'complete old archive');
    let tempSeen = '';
    const failing = replaceFileAtomic(target, async (temp) => {
      tempSeen = temp;
      await fs.writeFile(temp, 'half of a new');
      throw new Error('stream broke');
    });
    await expect(failing).rejects.toThrow('stream broke');
    expect(path.dirname(tempSeen)).toBe(dir);
    expect(await fs.readFile(target, 'utf8')).toBe('complete old archive');
    expect(await fs.readdir(dir)).toEqual(['archive.tar']);
  });

  it('renames what the fill made, e.g. a hard link', async () => {
    const source = path.join(dir, 'download');
    await fs.writeFile(source, 'bytes');
    const target = path.join(dir, 'content');
    await replaceFileAtomic(target, (temp) => fs.link(source, temp));
    expect((await fs.stat(target)).ino).toBe((await fs.stat(source)).ino);
    expect((await fs.readdir(dir)).sort()).toEqual(['content', 'download']);
  });
});

describe('tempPathBeside', () => {
  it('names a unique temp file in the same directory, with the pid the store clean-up reads', () => {
    const target = path.join(dir, 'a'.repeat(64));
    const first = tempPathBeside(target);
    expect(path.dirname(first)).toBe(dir);
    // The name the store removes when its writer has died (store/layout.ts, CACHE_TEMP_NAME).
    expect(path.basename(first)).toMatch(new RegExp(`^a{64}\\.${process.pid}\\.[0-9a-f]+\\.tmp$`));
    expect(tempPathBeside(target)).not.toBe(first);
  });
});

describe('createFileIfAbsent', () => {
  it('creates the file once and never replaces what is there', async () => {
    const target = path.join(dir, 'oci-layout');
    await createFileIfAbsent(path.join(dir, 'tmp-1'), target, 'first');
    await createFileIfAbsent(path.join(dir, 'tmp-2'), target, 'second');
    expect(await fs.readFile(target, 'utf8')).toBe('first');
    expect(await fs.readdir(dir)).toEqual(['oci-layout']);
  });
});

describe('hiddenTempPathBeside and removeStaleTempsBeside', () => {
  it('removes the temp files of dead writers of that target only', async () => {
    const target = path.join(dir, 'image.tar');
    const mine = hiddenTempPathBeside(target);
    expect(path.basename(mine)).toMatch(new RegExp(`^\\.image\\.tar\\.${process.pid}\\.\\d+-[0-9a-f]+\\.tmp$`));
    // A pid that has surely exited: a child that already ran.
    const deadPid = spawnSync('true').pid;
    const dead = path.join(dir, `.image.tar.${deadPid}.12345-abcdef012345.tmp`);
    const deadOldStyle = path.join(dir, `.image.tar.${deadPid}-abcdef01.tmp`);
    const otherTarget = path.join(dir, `.other.tar.${deadPid}.12345-abcdef012345.tmp`);
    const notOurs = path.join(dir, '.image.tar.backup.tmp');
    for (const file of [mine, dead, deadOldStyle, otherTarget, notOurs]) await fs.writeFile(file, 'x');
    await removeStaleTempsBeside(target);
    expect((await fs.readdir(dir)).sort()).toEqual([path.basename(mine), path.basename(notOurs), path.basename(otherTarget)].sort());
  });
});
