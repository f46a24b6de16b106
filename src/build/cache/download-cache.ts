/**
 * The last download of each ADD URL, kept in the store (`cache/downloads/`)
 * with the validators the server gave (ETag, Last-Modified), so the next
 * build can ask "changed since?" and, on 304 Not Modified, use the kept
 * copy instead of downloading again; with --checksum it asks nothing when
 * the kept copy has that digest. One entry per URL: a changed file replaces it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface KeptDownload {
  /** sha256 of the content. */
  digest: string;
  /** The file name the download got (from the URL or Content-Disposition). */
  name: string;
  /** Last-Modified, as an ISO time. */
  modified?: string;
  etag?: string;
  lastModified?: string;
}

export class DownloadCache {
  /** With `reuse` false (--no-cache) nothing kept is used, but new downloads are still kept. */
  constructor(private readonly dir: string, private readonly reuse = true) {}

  private entryDir(url: string): string {
    return path.join(this.dir, createHash('sha256').update(url).digest('hex'));
  }

  /** The kept download of `url` and the path of its content, if there is one. */
  async get(url: string): Promise<{ meta: KeptDownload; file: string } | undefined> {
    if (!this.reuse) return undefined;
    const dir = this.entryDir(url);
    try {
      const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as KeptDownload;
      return { meta, file: path.join(dir, 'content') };
    } catch {
      return undefined;
    }
  }

  /**
   * Keeps `file` (hard-linked when it can be) as the download of `url`. The
   * content is renamed into place before its description, and readers check
   * the digest as they copy, so a build that keeps the same URL at the same
   * time can never make another use the wrong bytes.
   */
  async keep(url: string, meta: KeptDownload, file: string): Promise<void> {
    const dir = this.entryDir(url);
    await mkdir(dir, { recursive: true });
    const suffix = `${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const content = path.join(dir, `content.${suffix}`);
    await link(file, content).catch(() => copyFile(file, content));
    await rename(content, path.join(dir, 'content'));
    const metaFile = path.join(dir, `meta.${suffix}`);
    await writeFile(metaFile, JSON.stringify(meta));
    await rename(metaFile, path.join(dir, 'meta.json'));
  }

  async forget(url: string): Promise<void> {
    await rm(this.entryDir(url), { recursive: true, force: true });
  }
}
