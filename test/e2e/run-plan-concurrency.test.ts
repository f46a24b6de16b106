/**
 * Planned runs (bin/run-plan.sh) keep the container records' guarantees when
 * many runs start at once, alongside runs through Node: every run completes,
 * a name goes to one container only (both paths choose names under
 * containers.lock), a record is never seen half-written (both write a temp
 * file and rename it), and the container's pid is recorded once known.
 */
import { execa } from 'execa';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { makeContext, makeStore, removeStore, ribo, riboOk, spawnRibo, type RiboOptions, until } from './harness.js';

let root: string;
let context: string;
const opts = (): RiboOptions => ({ root });
const planFile = () => path.join(root, 'run-plans', 'crun', 'plan-many.plan');

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({ Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["echo", "default"]\n' });
  await execa('cp', ['/bin/busybox', context]);
  await execa('chmod', ['a+rx', path.join(context, 'busybox')]);
  await riboOk(['build', '-t', 'plan-many', context], opts());
  // The first plain run goes through Node and writes the plan the others use.
  await riboOk(['run', '--rm', 'plan-many', 'true'], opts());
}, 300_000);

afterAll(async () => {
  const left = await ribo(['ps', '-a', '-q'], opts());
  for (const id of left.stdout.split('\n').filter(Boolean)) await ribo(['rm', '-f', id], opts());
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

/** The NAMES column of `ribo ps`. */
async function names(flags: string[]): Promise<string[]> {
  const lines = (await riboOk(['ps', ...flags], opts())).stdout.split('\n').slice(1).filter(Boolean);
  return lines.map((line) => line.trim().split(/\s+/).at(-1)!);
}

/**
 * Reads every container record, as any reader may, until `done` resolves:
 * the number of records read, and each text that was not whole JSON.
 */
async function watchRecords(done: Promise<unknown>): Promise<{ read: number; torn: string[] }> {
  let finished = false;
  void done.finally(() => (finished = true));
  const result = { read: 0, torn: [] as string[] };
  const dir = path.join(root, 'containers');
  while (!finished) {
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      const text = await readFile(path.join(dir, id, 'state.json'), 'utf8').catch(() => undefined);
      if (text === undefined) continue; // not made yet, or already removed
      result.read++;
      try {
        JSON.parse(text);
      } catch {
        result.torn.push(text);
      }
    }
  }
  return result;
}

/** Runs `ribo ps -a` over and over until `done` resolves; the failures. */
async function pollPs(done: Promise<unknown>): Promise<string[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const failures: string[] = [];
  while (!finished) {
    const ps = await ribo(['ps', '-a'], opts());
    if (ps.exitCode !== 0) failures.push(ps.stderr);
  }
  return failures;
}

describe('planned runs at the same time as others', () => {
  it('all complete, one container gets a name, and no record is read half-written', async () => {
    const plannedBefore = (await stat(planFile())).mtimeMs;
    const planned = Array.from({ length: 10 }, (_, i) => ribo(['run', '--rm', 'plan-many', 'echo', `run-${i}`], opts()));
    const named = Array.from({ length: 5 }, () => ribo(['run', '-d', '--name', 'same', 'plan-many', 'sleep', '60'], opts()));
    const all = Promise.all([...planned, ...named]);
    const [results, records, psFailures] = await Promise.all([all, watchRecords(all), pollPs(all)]);

    results.slice(0, 10).forEach((result, i) => expect(result).toEqual({ exitCode: 0, stdout: `run-${i}`, stderr: '' }));
    const namedResults = results.slice(10);
    expect(namedResults.filter((r) => r.exitCode === 0)).toHaveLength(1);
    for (const refused of namedResults.filter((r) => r.exitCode !== 0)) expect(refused.stderr).toContain('The container name "same" is already in use');

    expect(records.read).toBeGreaterThan(0);
    expect(records.torn).toEqual([]);
    expect(psFailures).toEqual([]);
    // Every planned run was the shell's: a run through Node would have written the plan again.
    expect((await stat(planFile())).mtimeMs).toBe(plannedBefore);
    expect(await names(['-a'])).toEqual(['same']);
    await riboOk(['rm', '-f', 'same'], opts());
  }, 180_000);

  it('records the pid of a planned container once the runtime has written it', async () => {
    const { child } = await spawnRibo(['run', '--rm', 'plan-many', 'sleep', '30'], opts());
    let pid: { pid: number; start: number } | null | undefined;
    // Up to a minute: the container's start may be slow on a loaded machine.
    for (const deadline = Date.now() + 60_000; !pid && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ids = await readdir(path.join(root, 'containers')).catch(() => [] as string[]);
      const text = ids.length === 1 ? await readFile(path.join(root, 'containers', ids[0]!, 'state.json'), 'utf8').catch(() => undefined) : undefined;
      pid = text ? (JSON.parse(text) as { pid?: { pid: number; start: number } | null }).pid : undefined;
    }
    expect(pid).toBeTruthy();
    // The runtime writes the pid file before that process execs sleep.
    await until('the recorded process to run sleep', async () => (await readFile(`/proc/${pid!.pid}/cmdline`, 'utf8')).split('\0')[0] === 'sleep');
    // Its start time, field 22 of /proc/PID/stat, identifies it.
    const stat22 = (await readFile(`/proc/${pid!.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[19];
    expect(Number(stat22)).toBe(pid!.start);
    const [name] = await names([]);
    await riboOk(['kill', name!], opts());
    expect((await child).exitCode).toBe(137);
  }, 120_000);
});
