/**
 * What each layer of an image does to the filesystem (what people use `dive`
 * for): the paths it adds, changes (already present below it) and deletes
 * (whiteouts, opaque directories), with sizes. Layer tars are streamed; only
 * one entry per path (type, size, owner, mode) is kept across layers.
 */
import type { Digest } from '../oci/image.js';
import { decompressedLayer } from '../layer/compression.js';
import { readTar, type TarEntryType } from '../layer/index.js';
import type { ResolvedImage, Store } from '../store/index.js';
import { imageHistory } from './inspect.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

export type ChangeKind = 'added' | 'changed' | 'deleted';

export interface PathChange {
  kind: ChangeKind;
  /** Absolute path in the image, e.g. /etc/passwd. */
  path: string;
  type: TarEntryType;
  /** Content bytes: of the new file, or for deletions of what was removed (a directory: everything under it). */
  size: number;
  linkTarget?: string;
}

export interface ChangeTotals {
  count: number;
  bytes: number;
}

export interface LayerChanges {
  /** 1 is the bottom layer. */
  index: number;
  digest: Digest;
  diffID: Digest;
  /** The blob's (compressed) size. */
  size: number;
  createdBy: string;
  added: ChangeTotals;
  changed: ChangeTotals;
  deleted: ChangeTotals;
  changes: PathChange[];
}

export interface ImageChanges {
  layers: LayerChanges[];
  /** Content bytes of the final filesystem. */
  totalBytes: number;
  /** Bytes that lower layers carry but later layers replace or delete: space the image ships for nothing. */
  wastedBytes: number;
}

interface PathState {
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
}

function imagePath(archivePath: string): string {
  const trimmed = archivePath.replace(/^(\.\/)+/, '').replace(/\/+$/, '').replace(/^\/+/, '');
  return trimmed === '.' || trimmed === '' ? '/' : `/${trimmed}`;
}

function parentOf(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash <= 0 ? '/' : p.slice(0, slash);
}

function isUnder(p: string, dir: string): boolean {
  return dir === '/' ? p !== '/' : p.startsWith(`${dir}/`);
}

/** Removes `target` and everything under it from `state`; returns the bytes removed (0 if absent). */
function removeTree(state: Map<string, PathState>, target: string, except?: Set<string>): { found: boolean; bytes: number } {
  let found = false;
  let bytes = 0;
  for (const [p, entry] of state) {
    if ((p === target || isUnder(p, target)) && !except?.has(p)) {
      found = true;
      bytes += entry.size;
      state.delete(p);
    }
  }
  return { found, bytes };
}

function totals(changes: readonly PathChange[], kind: ChangeKind): ChangeTotals {
  const matching = changes.filter((change) => change.kind === kind);
  return { count: matching.length, bytes: matching.reduce((sum, change) => sum + change.size, 0) };
}

export async function imageLayerChanges(store: Store, image: ResolvedImage, name: string): Promise<ImageChanges> {
  const state = new Map<string, PathState>();
  const layers: LayerChanges[] = [];
  let wastedBytes = 0;
  const rows = imageHistory(image, name).filter((row) => row.layer);
  for (const [i, row] of rows.entries()) {
    const layer = row.layer!;
    const changes: PathChange[] = [];
    const written = new Set<string>();
    const whiteouts: string[] = [];
    const opaqueDirs: string[] = [];
    const lowerHad = (p: string) => state.get(p);
    for await (const entry of readTar(decompressedLayer(store.openBlob(layer.digest)))) {
      const p = imagePath(entry.path);
      const base = p.slice(p.lastIndexOf('/') + 1);
      if (base === OPAQUE_MARKER) {
        opaqueDirs.push(parentOf(p));
        continue;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        const dir = parentOf(p);
        whiteouts.push(`${dir === '/' ? '' : dir}/${base.slice(WHITEOUT_PREFIX.length)}`);
        continue;
      }
      written.add(p);
      const before = lowerHad(p);
      const now: PathState = { type: entry.type, size: entry.size, mode: entry.mode, uid: entry.uid, gid: entry.gid };
      // Parent directories are repeated in every layer that writes below them: only a real change counts.
      const unchangedDir = before?.type === 'directory' && entry.type === 'directory' && before.mode === now.mode && before.uid === now.uid && before.gid === now.gid;
      if (!unchangedDir) {
        changes.push({ kind: before ? 'changed' : 'added', path: p, type: entry.type, size: entry.size, ...(entry.linkTarget ? { linkTarget: entry.linkTarget } : {}) });
        if (before) wastedBytes += before.size;
      }
      if (before && before.type === 'directory' && entry.type !== 'directory') wastedBytes += removeTree(state, p).bytes;
      state.set(p, now);
    }
    for (const target of whiteouts) {
      const type = state.get(target)?.type ?? 'file';
      const removed = removeTree(state, target);
      if (!removed.found) continue;
      wastedBytes += removed.bytes;
      changes.push({ kind: 'deleted', path: target, type, size: removed.bytes });
    }
    for (const dir of opaqueDirs) {
      // An opaque directory hides everything the layers below had in it.
      const hidden = [...state.keys()].filter((p) => isUnder(p, dir) && !written.has(p)).sort();
      let reported: string | undefined;
      for (const p of hidden) {
        const entry = state.get(p);
        if (!entry || (reported !== undefined && isUnder(p, reported))) continue; // counted with its parent
        reported = p;
        const removed = removeTree(state, p, written);
        wastedBytes += removed.bytes;
        changes.push({ kind: 'deleted', path: p, type: entry.type, size: removed.bytes });
      }
    }
    changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    layers.push({
      index: i + 1,
      digest: layer.digest,
      diffID: layer.diffID,
      size: layer.size,
      createdBy: row.createdBy,
      added: totals(changes, 'added'),
      changed: totals(changes, 'changed'),
      deleted: totals(changes, 'deleted'),
      changes,
    });
  }
  const totalBytes = [...state.values()].reduce((sum, entry) => sum + entry.size, 0);
  return { layers, totalBytes, wastedBytes };
}
