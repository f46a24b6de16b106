/**
 * Messages that point the right way, and the build flags docker users
 * reach for: a base image whose registry cannot be reached (named at its
 * Dockerfile line, with a hint for why), COPY --from of a misspelt stage,
 * a user without subordinate ids, `build --pull`, `--no-cache-filter`,
 * `--cache-from IMAGE` and the accepted no-ops `--rm`/`--force-rm`.
 */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';
import { freePort, startRegistry, type RunningRegistry } from '../setup/registry.js';

let root: string;
let hello: string;
const cleanups: Array<() => Promise<unknown>> = [];

async function context(files: Record<string, string>, fixture?: string): Promise<string> {
  const dir = await makeContext(files, fixture);
  cleanups.push(() => execa('rm', ['-rf', dir]));
  return dir;
}

async function store(): Promise<string> {
  const dir = await makeStore();
  cleanups.push(() => removeStore(dir));
  return dir;
}

/** The one `ribo: error:` line of a failed command. */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('ribo: error:'));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** The progress lines of steps (`#N [stage i/n] …`) of a plain-progress build. */
function stepLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^#\d+ \[/.test(l));
}

beforeAll(async () => {
  root = await store();
  hello = await context({}, 'hello');
  await riboOk(['build', '-q', '-t', 'hello', hello], { root });
}, 300_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe('an image that cannot be pulled', () => {
  it('names the Dockerfile line and says the name does not resolve', async () => {
    // .invalid never resolves (RFC 2606), with or without a network.
    const ctx = await context({ Dockerfile: 'FROM hello AS unused\n\n# the base\nFROM nosuch.invalid/image:1.0\nRUN true\n' });
    const result = await ribo(['build', ctx], { root });
    expect(result.exitCode).not.toBe(0);
    const message = errorLine(result.stderr);
    expect(message).toContain(`${ctx}/Dockerfile:4`);
    expect(message).toContain('Could not reach the registry nosuch.invalid');
    expect(message).toContain('does not resolve (DNS)');
    expect(message).not.toContain('--tls-verify=false');
  });

  it('says nothing accepts connections when the port is closed', async () => {
    const port = await freePort();
    const ctx = await context({ Dockerfile: `FROM hello\nCOPY --from=127.0.0.1:${port}/tools:1 /x /x\n` });
    const message = errorLine((await ribo(['build', ctx], { root })).stderr);
    expect(message).toContain(`${ctx}/Dockerfile:2`);
    expect(message).toContain(`Nothing accepts connections at 127.0.0.1:${port}`);
  });
});

describe('COPY --from of a stage name with a typo', () => {
  it('suggests the stage before trying any registry', async () => {
    const ctx = await context({ Dockerfile: 'FROM hello AS one\nRUN echo a > /a\nFROM hello\nCOPY --from=ones /a /a\n' });
    const result = await ribo(['build', '--progress', 'plain', ctx], { root });
    expect(result.exitCode).not.toBe(0);
    const message = errorLine(result.stderr);
    expect(message).toContain(`${ctx}/Dockerfile:4`);
    expect(message).toContain('Did you mean the stage "one"');
    expect(result.stderr).not.toContain('Pulling');
    // A name that is close to no stage is still taken for an image.
    const far = await context({ Dockerfile: 'FROM hello AS one\nFROM hello\nCOPY --from=nosuch.invalid/x /a /a\n' });
    const pulled = await ribo(['build', far], { root });
    expect(pulled.stderr).toContain('Could not reach the registry nosuch.invalid');
  });
});

describe('a user without subordinate ids', () => {
  // prepare-e2e.sh (run as root) makes USER-nosubid with no lines in /etc/subuid and /etc/subgid.
  const user = E2E_USER ? `${E2E_USER}-nosubid` : undefined;
  (user ? it : it.skip)(`is told a free range to add (needs RIBO_E2E_USER and its -nosubid user, made by test/setup/prepare-e2e.sh as root)`, async () => {
    const own = await makeStore(user);
    cleanups.push(() => removeStore(own));
    const info = await ribo(['info'], { root: own, asUser: user });
    expect(info.exitCode).toBe(0);
    const suggested = /usermod --add-subuids (\d+)-(\d+) --add-subgids \1-\2 (\S+)\)/.exec(info.stdout);
    expect(suggested).not.toBeNull();
    expect(suggested![3]).toBe(user);
    const [start, end] = [Number(suggested![1]), Number(suggested![2])];
    expect(end - start + 1).toBe(65536);
    // It overlaps no line of either file.
    for (const file of ['/etc/subuid', '/etc/subgid']) {
      for (const line of (await readFile(file, 'utf8')).split('\n').filter((l) => /^[^#].*:\d+:\d+$/.test(l))) {
        const [, s, c] = line.split(':').map(Number) as [number, number, number];
        expect(end < s || start >= s + c).toBe(true);
      }
    }
    // Commands that need the namespace fail with the same fix.
    const run = await ribo(['run', '--rm', 'hello', 'true'], { root: own, asUser: user });
    expect(run.exitCode).not.toBe(0);
    expect(errorLine(run.stderr)).toContain(`usermod --add-subuids ${start}-${end}`);
  });
});

describe('build flags', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry.stop());

  it('--pull uses a newer base pushed to the registry; without it the store\'s copy is used', async () => {
    const base = `${registry.host}/lifecycle/base:1`;
    const publish = async (version: string) => {
      const ctx = await context({ Dockerfile: `FROM hello\nRUN echo ${version} > /version\n` });
      await riboOk(['build', '-q', '-t', base, ctx], { root });
      await riboOk(['push', base], { root });
    };
    await publish('v1');
    const consumer = await store();
    const app = await context({ Dockerfile: `FROM ${base}\nRUN cp /version /seen\n` });
    await riboOk(['build', '-q', '-t', 'app', app], { root: consumer });
    const seen = async () => (await riboOk(['run', '--rm', 'app', 'cat', '/seen'], { root: consumer })).stdout.trim();
    expect(await seen()).toBe('v1');
    await publish('v2');
    await riboOk(['build', '-q', '-t', 'app', app], { root: consumer });
    expect(await seen()).toBe('v1');
    await riboOk(['build', '-q', '--pull', '-t', 'app', app], { root: consumer });
    expect(await seen()).toBe('v2');
  });

  it('--no-cache-filter reruns the named stage only, and what uses it when its result changed', async () => {
    const steady = await context({ Dockerfile: 'FROM hello AS one\nRUN echo a > /a\nFROM hello\nRUN echo b > /b\nCOPY --from=one /a /a\n' });
    await riboOk(['build', '-q', steady], { root });
    const again = await riboOk(['build', '--progress', 'plain', '--no-cache-filter', 'one', steady], { root });
    expect(stepLines(again.stderr)).toEqual([
      expect.stringMatching(/\[one 1\/1\] RUN echo a/),
      expect.stringMatching(/\[stage-1 1\/2\] CACHED RUN echo b/),
      expect.stringMatching(/\[stage-1 2\/2\] CACHED COPY --from=one/),
    ]);
    // A stage whose rerun makes a different file: the COPY of it runs again and the image has the new file.
    const changing = await context({ Dockerfile: 'FROM hello AS one\nRUN cat /proc/sys/kernel/random/uuid > /a\nFROM hello\nRUN echo b > /b\nCOPY --from=one /a /a\n' });
    await riboOk(['build', '-q', '-t', 'changing', changing], { root });
    const first = (await riboOk(['run', '--rm', 'changing', 'cat', '/a'], { root })).stdout;
    const rebuilt = await riboOk(['build', '--progress', 'plain', '--no-cache-filter', 'one', '-t', 'changing', changing], { root });
    expect(stepLines(rebuilt.stderr)).toEqual([
      expect.stringMatching(/\[one 1\/1\] RUN cat/),
      expect.stringMatching(/\[stage-1 1\/2\] CACHED RUN echo b/),
      expect.stringMatching(/\[stage-1 2\/2\] COPY --from=one/),
    ]);
    expect((await riboOk(['run', '--rm', 'changing', 'cat', '/a'], { root })).stdout).not.toBe(first);
    const unknown = await ribo(['build', '--no-cache-filter', 'onee', steady], { root });
    expect(unknown.exitCode).toBe(2);
    expect(errorLine(unknown.stderr)).toContain('--no-cache-filter onee');
  });

  it('--cache-from IMAGE reuses the steps of an image built with inline cache, in a fresh store', async () => {
    const ctx = await context({ Dockerfile: 'FROM hello\nRUN cat /proc/sys/kernel/random/uuid > /made\nCOPY greeting.txt /copied\n', 'greeting.txt': 'hi\n' });
    const image = `${registry.host}/lifecycle/cached:1`;
    await riboOk(['build', '-q', '--cache-to', 'type=inline', '-t', image, ctx], { root });
    await riboOk(['push', image], { root });
    const made = (await riboOk(['run', '--rm', image, 'cat', '/made'], { root })).stdout;

    const fresh = await store();
    await riboOk(['build', '-q', '-t', 'hello', hello], { root: fresh });
    const built = await riboOk(['build', '--progress', 'plain', '--cache-from', image, '-t', 'app', ctx], { root: fresh });
    expect(stepLines(built.stderr)).toEqual([expect.stringMatching(/CACHED RUN cat/), expect.stringMatching(/CACHED COPY greeting.txt/)]);
    expect((await riboOk(['run', '--rm', 'app', 'cat', '/made'], { root: fresh })).stdout).toBe(made);
    // A changed file is not taken from the image.
    const changed = await context({ Dockerfile: 'FROM hello\nRUN cat /proc/sys/kernel/random/uuid > /made\nCOPY greeting.txt /copied\n', 'greeting.txt': 'changed\n' });
    const partly = await riboOk(['build', '--progress', 'plain', '--cache-from', image, '-t', 'app2', changed], { root: fresh });
    expect(stepLines(partly.stderr)).toEqual([expect.stringMatching(/CACHED RUN cat/), expect.not.stringMatching(/CACHED/)]);
    expect((await riboOk(['run', '--rm', 'app2', 'cat', '/copied'], { root: fresh })).stdout.trim()).toBe('changed');
    // An image without inline cache (looked at when a step is not in the store's own cache): a warning, and the build runs.
    const other = await context({ Dockerfile: 'FROM hello\nRUN echo other > /other\n' });
    const plain = await riboOk(['build', '--progress', 'plain', '--cache-from', 'hello', '-t', 'app3', other], { root: fresh });
    expect(plain.stderr).toContain('--cache-from hello: the image carries no build cache');
  });

  it('accepts --rm and --force-rm, as BuildKit does', async () => {
    const ctx = await context({ Dockerfile: 'FROM hello\nRUN echo x > /x\n' });
    const { stdout } = await riboOk(['build', '-q', '--rm', '--force-rm', '-t', 'rmflags', ctx], { root });
    expect(stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await riboOk(['run', '--rm', 'rmflags', 'cat', '/x'], { root })).stdout.trim()).toBe('x');
  });
});
