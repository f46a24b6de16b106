/**
 * The differential suite's own machinery, on layers made here with GNU tar:
 * whiteouts and opaque directories are applied as the OCI image spec says,
 * and the judge accepts exactly the listed differences.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compareConfigs, compareTrees, judge, validateAllowed, type AllowedDifference } from './compare.js';
import { mergeLayers } from './tree.js';

let dir: string;

/** Writes the files (content, or null for a directory) under a fresh dir and tars them, gzip or not. */
async function layer(name: string, files: Record<string, string | null>, gzip = false): Promise<string> {
  const src = path.join(dir, `${name}-src`);
  await mkdir(src, { recursive: true });
  for (const [p, content] of Object.entries(files)) {
    if (content === null) await mkdir(path.join(src, p), { recursive: true });
    else {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), content);
    }
  }
  const out = path.join(dir, `${name}.tar${gzip ? '.gz' : ''}`);
  await execa('tar', ['-C', src, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', gzip ? '-czf' : '-cf', out, ...Object.keys(files)]);
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-diff-unit-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('applies whiteouts and opaque directories to the layers below only', async () => {
  const base = await layer('base', { a: null, 'a/gone': 'x', 'a/kept': 'k', o: null, 'o/old': 'old', d: null, 'd/sub/deep': 'deep' }, true);
  const top = await layer('top', { a: null, 'a/.wh.gone': '', d: null, 'd/.wh.sub': '', o: null, 'o/.wh..wh..opq': '', 'o/new': 'new' });
  const tree = await mergeLayers([base, top]);
  expect([...tree.keys()].sort()).toEqual(['/a', '/a/kept', '/d', '/o', '/o/new']);
  expect(tree.get('/o/new')).toMatchObject({ type: 'file', uid: 0, gid: 0 });
});

it('records symlink targets, modes and content digests', async () => {
  const src = path.join(dir, 'links');
  await mkdir(src);
  await writeFile(path.join(src, 'f'), 'same');
  await symlink('f', path.join(src, 'l'));
  await execa('chmod', ['4750', path.join(src, 'f')]);
  await execa('tar', ['-C', src, '-cf', path.join(dir, 'links.tar'), 'f', 'l']);
  const tree = await mergeLayers([path.join(dir, 'links.tar')]);
  expect(tree.get('/f')).toMatchObject({ type: 'file', mode: 0o4750 });
  expect(tree.get('/f')!.digest).toMatch(/^[0-9a-f]{64}$/);
  expect(tree.get('/l')).toMatchObject({ type: 'symlink', target: 'f' });
});

it('accepts exactly the listed differences, and no listed one that did not occur', async () => {
  const one = await mergeLayers([await layer('one', { x: 'one', y: 'y' })]);
  const two = await mergeLayers([await layer('two', { x: 'two' })]);
  const found = compareTrees(one, two);
  expect(found.map((d) => `${d.where} ${d.aspect}`)).toEqual(['/x digest', '/y presence']);
  const listed: AllowedDifference = { path: '/y', aspect: 'presence', ribo: 'file', buildah: 'absent', reason: 'r', buildkit: 'b' };
  const stale: AllowedDifference = { config: 'User', ribo: '1', buildah: null, reason: 'r', buildkit: 'b' };
  const verdict = judge(found, [listed, stale], []);
  expect(verdict.unexpected.map((d) => d.where)).toEqual(['/x']);
  expect(verdict.unused).toEqual([stale]);
  expect(validateAllowed([{ path: 'y', ribo: 1 } as unknown as AllowedDifference], false)).toHaveLength(4);
});

it('compares config fields without regard to key order, empty values or buildah-only fields', () => {
  const ribo = { config: { Healthcheck: { Test: ['CMD', 'true'], Interval: 1 }, Labels: { a: 'b' } } };
  const buildah = { config: { Healthcheck: { Interval: 1, Test: ['CMD', 'true'] }, Labels: { a: 'b', 'io.buildah.version': '1' }, Cmd: [], User: '' } };
  expect(compareConfigs(ribo, buildah)).toEqual([{ where: 'Labels.io.buildah.version', aspect: 'value', ribo: null, buildah: '1' }]);
  const suiteWide: AllowedDifference = { config: 'Labels.io.buildah.version', ribo: null, buildah: '*', optional: true, reason: 'r', buildkit: 'b' };
  expect(judge(compareConfigs(ribo, buildah), [], [suiteWide])).toEqual({ unexpected: [], unused: [] });
});
