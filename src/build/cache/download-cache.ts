/**
 * The last download of each ADD URL, kept in the store (`cache/downloads/`)
 * with the validators the server gave (ETag, Last-Modified), so the next
 * build can ask "changed since?" and, on 304 Not Modified, use the kept
 * copy instead of downloading again; with --checksum it asks nothing when
 * the kept copy has that digest. One entry per URL: a changed file replaces it.
 */
import { createHash } from 'node:crypto';
import { link, mkdir, readFile, rm, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFileAtomic, writeFileAtomic } from '../../files/atomic-write.js';

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
    await replaceFileAtomic(path.join(dir, 'content'), (temp) => link(file, temp).catch(() => copyFile(file, temp)));
    await writeFileAtomic(path.join(dir, 'meta.json'), JSON.stringify(meta));
  }

  async forget(url: string): Promise<void> {
    await rm(this.entryDir(url), { recursive: true, force: true });
  }
}
