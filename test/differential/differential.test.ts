/**
 * The differential suite: every case under test/differential/cases/ is built
 * by ribo and by `buildah bud --layers`, both as the unprivileged e2e user
 * (or the current user when not root), and the two images' merged root trees
 * and configs must agree except for the differences the case lists (see
 * cases.ts and compare.ts). Failure cases must fail with both tools.
 *
 * buildah gets `--format docker`: its default OCI format drops Healthcheck,
 * Shell and OnBuild at commit, which BuildKit (and ribo) keep in the config.
 * It runs with storage of its own (overlay, runc: see test/setup/prepare-e2e.sh
 * for the user's containers.conf/storage.conf), removed afterwards.
 */
import { execa } from 'execa';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../e2e/harness.js';
import { compareConfigs, compareTrees, judge, validateAllowed, type AllowedDifference, type Difference, type Verdict } from './compare.js';
import { buildFlags, loadCases, lookupUser, makeOwnedDir, onPath, pool, prepareContext, runAs, type Case, type RunResult, type User } from './cases.js';
import { readDirImage, readRiboImage } from './image.js';
import { mergeLayers } from './tree.js';

const CASES_DIR = path.join(PROJECT_ROOT, 'test/differential/cases');
const SUITE_DIFFERENCES = path.join(PROJECT_ROOT, 'test/differential/differences.json');
const APP_DIR = process.env.RIBO_E2E_APP ?? PROJECT_ROOT;
const PARALLEL = 2;

const haveBuildah = await onPath('buildah');
if (!haveBuildah) console.warn('differential suite skipped: buildah is not installed (make test installs it)');
const suite = haveBuildah ? describe : describe.skip;

interface Outcome {
  ribo: RunResult;
  buildah: RunResult;
  verdict?: Verdict;
  found?: Difference[];
}

const allCases = await loadCases(CASES_DIR);
// DIFFERENTIAL_CASES=name,name runs only those cases (for working on one).
const only = process.env.DIFFERENTIAL_CASES?.split(',').filter(Boolean);
const cases = only ? allCases.filter((c) => only.includes(c.name)) : allCases;
const suiteAllowed: AllowedDifference[] = JSON.parse(await readFile(SUITE_DIFFERENCES, 'utf8'));
let work: string;
let user: User | undefined;
let outcomes: Array<Promise<Outcome>> = [];

function dirs() {
  return {
    riboRoot: path.join(work, 'ribo'),
    buildahArgs: ['--root', path.join(work, 'buildah/root'), '--runroot', path.join(work, 'buildah/run'), '--storage-driver', 'overlay'],
    contexts: path.join(work, 'contexts'),
    out: path.join(work, 'out'),
  };
}

const riboBuild = (args: string[], input?: string) =>
  runAs(user, path.join(APP_DIR, 'bin/ribo'), ['--root', dirs().riboRoot, 'build', ...args], { input });
// Its run-time files and blob-info cache go under the work dir too, so nothing is left behind.
const buildah = (args: string[], input?: string) => runAs(user, 'buildah', [...dirs().buildahArgs, ...args], {
  input, env: { XDG_RUNTIME_DIR: path.join(work, 'xdg/run'), XDG_DATA_HOME: path.join(work, 'xdg/data') },
});
const buildahBuild = (args: string[], input?: string) => buildah(['bud', '--layers', '--format', 'docker', ...args], input);

function failure(tool: string, r: RunResult): Error {
  return new Error(`${tool} exited ${r.exitCode}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
}

async function buildBase(c: Case, ctx: string): Promise<void> {
  const base = c.options.base!;
  const args = ['-t', base.tag, path.join(ctx, base.dir)];
  const r = await riboBuild(args);
  if (r.exitCode !== 0) throw failure(`ribo (base of ${c.name})`, r);
  const b = await buildahBuild(args);
  if (b.exitCode !== 0) throw failure(`buildah (base of ${c.name})`, b);
}

async function runCase(c: Case): Promise<Outcome> {
  const { contexts, out } = dirs();
  const ctx = await prepareContext(c, contexts, user);
  if (c.options.base) await buildBase(c, ctx);
  const tag = `diff-${c.name}:1`;
  const flags = buildFlags(c, ctx, tag);
  const input = c.options.stdin ? await readFile(path.join(ctx, 'Dockerfile'), 'utf8') : undefined;
  const ribo = await riboBuild(flags, input);
  const built = await buildahBuild(buildFlags(c, ctx, tag, c.options.buildahDockerfile ?? c.options.dockerfile), input);
  if (c.fails || ribo.exitCode !== 0 || built.exitCode !== 0) return { ribo, buildah: built };
  const dest = path.join(out, c.name);
  const pushed = await buildah(['push', '--quiet', `localhost/${tag}`, `dir:${dest}`]);
  if (pushed.exitCode !== 0) throw failure('buildah push', pushed);
  const riboImage = await readRiboImage(dirs().riboRoot, tag);
  const buildahImage = await readDirImage(dest);
  const found = [
    ...compareTrees(await mergeLayers(riboImage.layers), await mergeLayers(buildahImage.layers)),
    ...compareConfigs(riboImage.config, buildahImage.config),
  ];
  return { ribo, buildah: built, found, verdict: judge(found, c.allowed, suiteAllowed) };
}

beforeAll(async () => {
  if (!haveBuildah) return;
  const name = process.getuid?.() === 0 ? process.env.RIBO_E2E_USER : undefined;
  user = name ? await lookupUser(name) : undefined;
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-differential-'));
  await chmod(work, 0o755);
  for (const d of ['ribo', 'buildah', 'contexts', 'out', 'xdg', 'xdg/data']) await makeOwnedDir(work, d, user);
  await chmod(await makeOwnedDir(work, 'xdg/run', user), 0o700);
  outcomes = pool(PARALLEL, cases.map((c) => () => runCase(c)));
});

afterAll(async () => {
  if (!work) return;
  await Promise.allSettled(outcomes);
  // A RUN that buildah could not start can leave its working container mounted.
  await buildah(['rm', '--all']);
  // Both stores hold files of subordinate ids: only root or the user's namespace can remove them.
  if (process.getuid?.() === 0) {
    const mounts = (await execa('findmnt', ['-rn', '-o', 'TARGET'], { reject: false })).stdout.split('\n');
    for (const m of mounts.filter((t) => t.startsWith(`${work}/`)).sort().reverse()) await execa('umount', [m], { reject: false });
    await rm(work, { recursive: true, force: true });
  }
  else await execa('buildah', ['unshare', 'rm', '-rf', work], { reject: false });
}, 120_000);

function explain(v: Verdict, found: Difference[]): string {
  const lines = [
    ...v.unexpected.map((d) => `unexpected: ${JSON.stringify(d)}`),
    ...v.unused.map((e) => `listed but not found: ${JSON.stringify({ path: e.path, config: e.config, aspect: e.aspect, ribo: e.ribo, buildah: e.buildah })}`),
  ];
  return `${lines.join('\n')}\n(all differences found: ${found.length})`;
}

suite('differential: ribo and buildah build the same images', () => {
  it('has well-formed difference lists and at least 60 cases', () => {
    expect(allCases.length).toBeGreaterThanOrEqual(60);
    expect(validateAllowed(suiteAllowed, true)).toEqual([]);
    for (const c of allCases) {
      const problems = validateAllowed(c.allowed, false);
      if (c.options.buildahDockerfile && !c.options.buildahDockerfileReason) problems.push('buildahDockerfile needs buildahDockerfileReason');
      expect({ case: c.name, problems }).toEqual({ case: c.name, problems: [] });
    }
  });

  cases.forEach((c, i) => {
    it(c.fails ? `${c.name}: both refuse it` : `${c.name}: same tree and config`, async () => {
      const outcome = await outcomes[i]!;
      if (c.fails) {
        if (outcome.ribo.exitCode === 0) throw new Error(`ribo built ${c.name}, which should fail (${c.fails.reason})`);
        if (outcome.buildah.exitCode === 0) throw new Error(`buildah built ${c.name}, which should fail (${c.fails.reason})`);
        const dockerfile = c.options.dockerfile ?? 'Dockerfile';
        expect(outcome.ribo.stderr).toMatch(new RegExp(`${path.basename(dockerfile).replace('.', '\\.')}:${c.fails.line}\\b`));
        return;
      }
      if (outcome.ribo.exitCode !== 0) throw failure('ribo build', outcome.ribo);
      if (outcome.buildah.exitCode !== 0) throw failure('buildah bud', outcome.buildah);
      const v = outcome.verdict!;
      if (v.unexpected.length > 0 || v.unused.length > 0) throw new Error(explain(v, outcome.found!));
    }, 600_000);
  });
});
