import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../files/atomic-write.js';

/**
 * A Keyv storage adapter that keeps each entry in a file of its own, named by
 * the hash of its key. Writes go to a temp file renamed into place, so a crash
 * never leaves a torn entry and concurrent builds never see one; two builds
 * writing the same key write the same value. No server, nothing to corrupt.
 */
export class DirectoryStore extends EventEmitter {
  readonly opts = { dialect: 'ribo-directory' };

  constructor(private readonly dir: string) {
    super();
  }

  private fileFor(key: string): string {
    return path.join(this.dir, createHash('sha256').update(key).digest('hex'));
  }

  async get(key: string): Promise<string | undefined> {
    return readFile(this.fileFor(key), 'utf8').catch(() => undefined);
  }

  async set(key: string, value: string): Promise<boolean> {
    const target = this.fileFor(key);
    // A cached build sets every position it passes to what it already holds: no write then.
    if ((await readFile(target, 'utf8').catch(() => undefined)) === value) return true;
    await mkdir(this.dir, { recursive: true });
    // The temp name is one the store's clean-up knows (store/layout.ts, CACHE_TEMP_NAME).
    await writeFileAtomic(target, value);
    return true;
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async delete(key: string): Promise<boolean> {
    const existed = await this.has(key);
    await rm(this.fileFor(key), { force: true });
    return existed;
  }

  async clear(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(names.map((name) => rm(path.join(this.dir, name), { force: true })));
  }
}
