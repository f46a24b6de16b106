/**
 * An image's root file tree, merged from its layer tars here and now: read
 * with the `tar` package's parser (not ribo's layer code), with OCI whiteouts
 * (`.wh.NAME` deletes NAME from the layers below, `.wh..wh..opq` empties a
 * directory of what the layers below had) applied layer by layer.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';

export type NodeType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';

/** What a tree comparison looks at for one path; mtimes are left out on purpose. */
export interface TreeNode {
  type: NodeType;
  /** Permission bits with setuid/setgid/sticky; 0 for symlinks, whose mode means nothing. */
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target. */
  target?: string;
  /** sha256 of a regular file's content (hard links get their target's). */
  digest?: string;
}

/** Absolute, clean path keys: '/bin/sh'. The root directory itself is left out. */
export type Tree = Map<string, TreeNode>;

const TYPES: Record<string, NodeType> = {
  File: 'file', OldFile: 'file', ContiguousFile: 'file', Link: 'file',
  Directory: 'dir', SymbolicLink: 'symlink', CharacterDevice: 'char', BlockDevice: 'block', FIFO: 'fifo',
};

export function cleanPath(raw: string): string {
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  return '/' + parts.join('/');
}

/**
 * Clears the link name of regular-file headers. buildah (containers/storage)
 * writes whiteout files with typeflag '0' and a stray link name; GNU tar and
 * container runtimes ignore it, but the tar package's parser drops the whole
 * entry, which would lose the whiteout. Everything else passes unchanged.
 */
class StrayLinknameFilter extends Transform {
  private pending = Buffer.alloc(0);
  /** Whether the tar stream had any byte that is not zero (an empty tar is all zeros). */
  sawData = false;
  /** Bytes of entry data (padded to 512) still to pass before the next header. */
  private dataLeft = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.sawData && chunk.some((b) => b !== 0)) this.sawData = true;
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    while (true) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, this.pending.length);
        out.push(this.pending.subarray(0, n));
        this.pending = this.pending.subarray(n);
        this.dataLeft -= n;
        if (this.dataLeft > 0) break;
      }
      if (this.pending.length < 512) break;
      const header = Buffer.from(this.pending.subarray(0, 512));
      this.pending = this.pending.subarray(512);
      out.push(StrayLinknameFilter.fix(header));
      this.dataLeft = Math.ceil(StrayLinknameFilter.size(header) / 512) * 512;
    }
    done(null, Buffer.concat(out));
  }

  override _flush(done: TransformCallback): void {
    done(null, this.pending);
  }

  private static size(header: Buffer): number {
    if (header.every((b) => b === 0)) return 0;
    const field = header.subarray(124, 136);
    if (field[0]! & 0x80) {
      let n = 0;
      for (let i = 1; i < 12; i++) n = n * 256 + field[i]!;
      return n;
    }
    return parseInt(field.toString('latin1').replace(/[\0 ]+$/, '').trim() || '0', 8);
  }

  private static fix(header: Buffer): Buffer {
    const type = String.fromCharCode(header[156]!);
    if (!['0', '\0', '7'].includes(type) || header[157] === 0) return header;
    header.fill(0, 157, 257);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    return header;
  }
}

async function isGzip(file: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const fh = await open(file, 'r');
  try {
    const { buffer } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    return buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

interface LayerEntry { path: string; node?: TreeNode; whiteout?: 'file' | 'opaque'; linkTo?: string }

/** Reads one layer tar (plain or gzip) into a list, hashing file contents. */
async function readLayer(file: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  const pending: Promise<void>[] = [];
  const warnings: string[] = [];
  const parser = new Parser({
    onwarn: (code: string, message: string | Error) => warnings.push(`${code}: ${String(message)}`),
    onReadEntry: (entry: ReadEntry) => {
      const full = cleanPath(entry.path);
      const base = full.slice(full.lastIndexOf('/') + 1);
      const dir = full.slice(0, full.lastIndexOf('/')) || '/';
      if (base === '.wh..wh..opq') {
        entries.push({ path: dir, whiteout: 'opaque' });
        entry.resume();
        return;
      }
      if (base.startsWith('.wh.')) {
        entries.push({ path: cleanPath(`${dir}/${base.slice(4)}`), whiteout: 'file' });
        entry.resume();
        return;
      }
      const type = TYPES[entry.type];
      if (!type) throw new Error(`${file}: entry ${entry.path} has type ${entry.type}, which the comparator does not know`);
      const node: TreeNode = {
        type,
        mode: type === 'symlink' ? 0 : (entry.mode ?? 0) & 0o7777,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
      };
      const item: LayerEntry = { path: full, node };
      entries.push(item);
      if (type === 'symlink') node.target = entry.linkpath;
      if (entry.type === 'Link') {
        item.linkTo = cleanPath(entry.linkpath ?? '');
        entry.resume();
      } else if (type === 'file') {
        const hash = createHash('sha256');
        entry.on('data', (chunk: Buffer) => hash.update(chunk));
        pending.push(new Promise((resolve) => entry.on('end', () => { node.digest = hash.digest('hex'); resolve(); })));
      } else {
        entry.resume();
      }
    },
  });
  const filter = new StrayLinknameFilter();
  await pipeline([createReadStream(file), ...((await isGzip(file)) ? [createGunzip()] : []), filter, parser]);
  // An entry the parser finds invalid must fail the comparison, not vanish from it;
  // the parser also complains of a tar with no entries (only zero blocks, or nothing), which is an empty layer.
  if (warnings.length > 0 && filter.sawData) throw new Error(`${file}: ${warnings.join('; ')}`);
  await Promise.all(pending);
  return entries;
}

function removeSubtree(tree: Tree, dir: string, keepSelf: boolean): void {
  if (!keepSelf) tree.delete(dir);
  const prefix = dir === '/' ? '/' : `${dir}/`;
  for (const key of [...tree.keys()]) if (key.startsWith(prefix)) tree.delete(key);
}

/** Parents that a layer names no entry for are made as unpackers make them: root's 0755 directories. */
function ensureParents(tree: Tree, p: string): void {
  const parts = p.split('/').filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const parent = '/' + parts.slice(0, i).join('/');
    if (!tree.has(parent)) tree.set(parent, { type: 'dir', mode: 0o755, uid: 0, gid: 0 });
  }
}

/** Merges layers bottom to top into one tree. */
export async function mergeLayers(layerFiles: string[]): Promise<Tree> {
  const tree: Tree = new Map();
  for (const file of layerFiles) {
    const entries = await readLayer(file);
    // Whiteouts hide only what the layers below had, so they go first.
    for (const e of entries) {
      if (e.whiteout === 'opaque') removeSubtree(tree, e.path, true);
      else if (e.whiteout === 'file') removeSubtree(tree, e.path, false);
    }
    const added = new Map<string, TreeNode>();
    for (const e of entries) {
      if (!e.node || e.path === '/') continue;
      if (e.linkTo !== undefined) {
        const target = added.get(e.linkTo) ?? tree.get(e.linkTo);
        e.node.digest = target?.digest;
      }
      const old = tree.get(e.path);
      if (old?.type === 'dir' && e.node.type !== 'dir') removeSubtree(tree, e.path, true);
      ensureParents(tree, e.path);
      tree.set(e.path, e.node);
      added.set(e.path, e.node);
    }
  }
  return tree;
}
