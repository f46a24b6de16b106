/**
 * Compares what ribo and buildah built from one context: the merged root file
 * trees and the config fields a Dockerfile sets. Each difference found must be
 * one that the case's differences.json (or, for what buildah does in every
 * case, the suite's) lists with both values; a listed difference that does not
 * occur is an error too, so the lists stay true.
 */
import type { Tree, TreeNode } from './tree.js';

export type Aspect = 'presence' | 'type' | 'mode' | 'uid' | 'gid' | 'target' | 'digest' | 'value';

/** One way the two images differ. `where` is a path ('/etc/x') or a config field ('Env', 'Labels.k'). */
export interface Difference {
  where: string;
  aspect: Aspect;
  ribo: unknown;
  buildah: unknown;
}

/** An entry of differences.json. */
export interface AllowedDifference {
  path?: string;
  config?: string;
  /** For paths: which attribute differs; config fields always compare whole values. */
  aspect?: Aspect;
  ribo: unknown;
  buildah: unknown;
  /** Why the two differ, and which one is right. */
  reason: string;
  /** What BuildKit's documentation says, in our words. */
  buildkit: string;
  /** Suite-wide entries only: the difference may be absent from a case. */
  optional?: boolean;
}

/** The config fields a Dockerfile can set (docker image config, as BuildKit writes it). */
export const CONFIG_FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes',
  'StopSignal', 'Healthcheck', 'Shell', 'OnBuild'] as const;
const MAP_FIELDS = new Set(['Labels', 'ExposedPorts', 'Volumes']);

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

function nodeDifferences(p: string, r: TreeNode, b: TreeNode): Difference[] {
  const out: Difference[] = [];
  if (r.type !== b.type) return [{ where: p, aspect: 'type', ribo: r.type, buildah: b.type }];
  if (r.mode !== b.mode) out.push({ where: p, aspect: 'mode', ribo: octal(r.mode), buildah: octal(b.mode) });
  if (r.uid !== b.uid) out.push({ where: p, aspect: 'uid', ribo: r.uid, buildah: b.uid });
  if (r.gid !== b.gid) out.push({ where: p, aspect: 'gid', ribo: r.gid, buildah: b.gid });
  if (r.target !== b.target) out.push({ where: p, aspect: 'target', ribo: r.target, buildah: b.target });
  if (r.digest !== b.digest) out.push({ where: p, aspect: 'digest', ribo: r.digest, buildah: b.digest });
  return out;
}

export function compareTrees(ribo: Tree, buildah: Tree): Difference[] {
  const out: Difference[] = [];
  const paths = [...new Set([...ribo.keys(), ...buildah.keys()])].sort();
  for (const p of paths) {
    const r = ribo.get(p);
    const b = buildah.get(p);
    if (!r || !b) out.push({ where: p, aspect: 'presence', ribo: r ? r.type : 'absent', buildah: b ? b.type : 'absent' });
    else out.push(...nodeDifferences(p, r, b));
  }
  return out;
}

/**
 * null, absent, "" and [] all mean "not set" (buildah writes `"Cmd": []`,
 * `"User": ""` where BuildKit leaves the field out; an image runs the same).
 */
function normal(value: unknown): unknown {
  if (value === null || value === undefined || value === '') return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  return value;
}

/** JSON with object keys sorted: key order means nothing in a config. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v);
}

function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

export function compareConfigs(ribo: Record<string, any>, buildah: Record<string, any>): Difference[] {
  const r = ribo.config ?? {};
  const b = buildah.config ?? {};
  const out: Difference[] = [];
  for (const field of CONFIG_FIELDS) {
    if (MAP_FIELDS.has(field)) {
      const rm: Record<string, unknown> = r[field] ?? {};
      const bm: Record<string, unknown> = b[field] ?? {};
      for (const key of [...new Set([...Object.keys(rm), ...Object.keys(bm)])].sort()) {
        if (!same(rm[key], bm[key])) out.push({ where: `${field}.${key}`, aspect: 'value', ribo: rm[key] ?? null, buildah: bm[key] ?? null });
      }
    } else if (!same(normal(r[field]), normal(b[field]))) {
      out.push({ where: field, aspect: 'value', ribo: normal(r[field]) ?? null, buildah: normal(b[field]) ?? null });
    }
  }
  return out;
}

function entryWhere(e: AllowedDifference): string {
  return e.path ?? e.config ?? '';
}

function matches(e: AllowedDifference, d: Difference): boolean {
  if (entryWhere(e) !== d.where) return false;
  if ((e.aspect ?? 'value') !== d.aspect) return false;
  const value = (listed: unknown, actual: unknown) => (e.optional && listed === '*') || same(listed, actual);
  return value(e.ribo, d.ribo) && value(e.buildah, d.buildah);
}

/** Checks that an allowed-differences file is well formed; returns what is wrong. */
export function validateAllowed(entries: AllowedDifference[], suiteWide: boolean): string[] {
  const problems: string[] = [];
  entries.forEach((e, i) => {
    if ((e.path === undefined) === (e.config === undefined)) problems.push(`entry ${i}: give exactly one of "path" or "config"`);
    if (e.path !== undefined && !e.path.startsWith('/')) problems.push(`entry ${i}: "path" must be absolute`);
    if (e.path !== undefined && !e.aspect) problems.push(`entry ${i}: a path entry needs "aspect"`);
    if (!('ribo' in e) || !('buildah' in e)) problems.push(`entry ${i}: give both "ribo" and "buildah" values`);
    if (!e.reason || !e.buildkit) problems.push(`entry ${i}: "reason" and "buildkit" must say why`);
    if (e.optional && !suiteWide) problems.push(`entry ${i}: "optional" belongs only in the suite-wide file`);
  });
  return problems;
}

export interface Verdict {
  /** Differences nobody listed. */
  unexpected: Difference[];
  /** Listed (non-optional) differences that did not occur. */
  unused: AllowedDifference[];
}

export function judge(found: Difference[], caseAllowed: AllowedDifference[], suiteAllowed: AllowedDifference[]): Verdict {
  const used = new Set<AllowedDifference>();
  const unexpected: Difference[] = [];
  for (const d of found) {
    const entry = caseAllowed.find((e) => matches(e, d)) ?? suiteAllowed.find((e) => matches(e, d));
    if (entry) used.add(entry);
    else unexpected.push(d);
  }
  return { unexpected, unused: caseAllowed.filter((e) => !used.has(e)) };
}
