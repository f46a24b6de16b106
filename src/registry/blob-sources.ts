import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { digestHex } from '../oci/digest.js';
import { writeFileAtomic } from '../files/atomic-write.js';

/**
 * Which registry repositories a blob is known to be in (pulled from or pushed
 * to), kept beside the store under registry-sources/. Push uses it to ask for a
 * cross-repository mount instead of uploading. Only a hint: a wrong entry costs
 * one refused mount and then a normal upload.
 */
export class BlobSources {
  constructor(private readonly storeRoot: string) {}

  private file(digest: string): string {
    return path.join(this.storeRoot, 'registry-sources', digestHex(digest));
  }

  /** "registry/repository" entries, most recent first. */
  async lookup(digest: string): Promise<string[]> {
    try {
      return JSON.parse(await readFile(this.file(digest), 'utf8')) as string[];
    } catch {
      return [];
    }
  }

  async record(digest: string, registry: string, repository: string): Promise<void> {
    const entry = `${registry}/${repository}`;
    const known = await this.lookup(digest);
    if (known[0] === entry) return;
    const updated = [entry, ...known.filter((k) => k !== entry)].slice(0, 8);
    const file = this.file(digest);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(updated));
  }
}
