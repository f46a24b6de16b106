/**
 * A foreground container with a terminal (`run -t`, `run -it`, `start -a`,
 * and `exec -t`), relayed by conmon: every run shows all of the container's output and
 * leaves with its exit code (crun's own relay could lose the last output,
 * or all of it, on a loaded machine), --rm leaves nothing, Ctrl-C typed
 * reaches the container through its terminal, and a killed ribo takes the
 * container with it.
 */
import { execa } from 'execa';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk, type RiboOptions, until } from './harness.js';

const asRoot = process.getuid?.() === 0;
let root: string;
const contexts: string[] = [];
const opts = (extra: Partial<RiboOptions> = {}): RiboOptions => ({ root, ...extra });

beforeAll(async () => {
  root = await makeStore();
  const hello = await makeContext({}, 'hello');
  contexts.push(hello);
  await riboOk(['build', '-t', 'hello', hello], opts());
}, 300_000);

afterAll(async () => {
  await removeStore(root);
  for (const dir of contexts) await execa('rm', ['-rf', dir]);
});

/** ribo's command line as the e2e user, for running it under script(1) or tmux. */
function riboCommand(args: string[], runtime = 'crun'): string[] {
  const app = process.env.RIBO_E2E_APP ?? path.resolve('.');
  const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `RIBO_RUNTIME=${runtime}`];
  const command = [process.execPath, path.join(app, 'bin/ribo'), '--root', root, ...args];
  if (E2E_USER && asRoot) return ['runuser', '-u', E2E_USER, '--', 'env', `HOME=/home/${E2E_USER}`, ...env, ...command];
  return ['env', ...env, ...command];
}

const quote = (words: string[]) => words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' ');

/**
 * Runs ribo under script(1), which gives it a terminal; script's own stdin
 * is a pipe left open and never written, as in CI. Returns what the
 * terminal showed (without carriage returns) and ribo's exit code, echoed last.
 */
async function inTerminal(args: string[], runtime?: string): Promise<{ lines: string[]; exitCode: number | undefined }> {
  const result = await execa('script', ['-qec', `${quote(riboCommand(args, runtime))}; echo "ribo-exit=$?"`, '/dev/null'], { reject: false, timeout: 120_000 });
  const lines = result.stdout.replace(/\r/g, '').split('\n').map((l) => l.trimEnd()).filter(Boolean);
  const exit = lines.map((l) => /^ribo-exit=(\d+)$/.exec(l)).find(Boolean);
  return { lines: lines.filter((l) => !l.startsWith('ribo-exit=')), exitCode: exit ? Number(exit[1]) : undefined };
}

const containerDirs = async () => readdir(path.join(root, 'containers')).catch(() => [] as string[]);

describe('run -t in the foreground', () => {
  it.each([['crun', 30], ['runc', 5]] as const)('shows all of the container\'s output and leaves with its exit code, every time (%s, %i runs)', async (runtime, runs) => {
    const failures: string[] = [];
    for (let i = 0; i < runs; i++) {
      const { lines, exitCode } = await inTerminal(['run', '--rm', '-t', 'hello', 'sh', '-c', `echo marker-${i}; exit 3`], runtime);
      if (!lines.includes(`marker-${i}`) || exitCode !== 3) failures.push(`run ${i}: exit ${exitCode}, output ${JSON.stringify(lines)}`);
    }
    expect(failures).toEqual([]);
    // --rm: nothing left behind, not even for a moment after ribo left.
    expect((await riboOk(['ps', '-a', '-q'], opts())).stdout.trim()).toBe('');
    expect(await containerDirs()).toEqual([]);
  }, 600_000);

  it('start -a runs a kept -t container again in the terminal, with its exit code', async () => {
    try {
      const script = '[ -t 1 ] && echo run-tty; exit 4';
      const first = await inTerminal(['run', '--name', 'tty-again', '-t', 'hello', 'sh', '-c', script]);
      expect(first).toEqual({ lines: ['run-tty'], exitCode: 4 });
      const again = await inTerminal(['start', '-a', 'tty-again']);
      expect(again).toEqual({ lines: ['run-tty'], exitCode: 4 });
      expect((await riboOk(['ps', '-a'], opts())).stdout).toMatch(/Exited \(4\).*tty-again/);
    } finally {
      await ribo(['rm', '-f', 'tty-again'], opts());
    }
  }, 240_000);

  it('a command not found exits 127, as docker run -t', async () => {
    const { exitCode } = await inTerminal(['run', '--rm', '-t', 'hello', 'no-such-command']);
    expect(exitCode).toBe(127);
    expect(await containerDirs()).toEqual([]);
  }, 120_000);

  it('ps lists it while it runs; a SIGKILLed ribo takes the container (and with --rm its record) with it', async () => {
    const running = execa('script', ['-qec', quote(riboCommand(['run', '--rm', '--name', 'tty-killed', '-t', 'hello', 'sleep', '1000'])), '/dev/null'], { reject: false, timeout: 120_000 });
    try {
      type State = { id: string; name: string; status: string; waiter?: { pid: number }; pid?: { pid: number } };
      const state = await until('the container to run', async () => {
        for (const dir of await containerDirs()) {
          const record = JSON.parse(await readFile(path.join(root, 'containers', dir, 'state.json'), 'utf8').catch(() => '{}')) as State;
          if (record.name === 'tty-killed' && record.status === 'running' && record.waiter && record.pid) return record;
        }
        return undefined;
      });
      const id = state.id;
      expect((await riboOk(['ps'], opts())).stdout).toMatch(/Up .*tty-killed/);
      process.kill(state.waiter!.pid, 'SIGKILL');
      await until('the container process to end', async () => !(await readFile(`/proc/${state.pid!.pid}/stat`, 'utf8').then((s) => !s.includes(') Z'), () => false)));
      await until('the container to be removed', async () => !(await containerDirs()).includes(id));
      expect((await riboOk(['ps', '-a', '-q'], opts())).stdout.trim()).toBe('');
    } finally {
      running.kill('SIGKILL');
    }
  }, 180_000);
});

describe('exec -t', () => {
  it('shows all of the command\'s output and leaves with its exit code, every time (crun, 30 runs)', async () => {
    await riboOk(['run', '-d', '--name', 'tty-exec', 'hello', 'sleep', '100000'], opts());
    try {
      const failures: string[] = [];
      for (let i = 0; i < 30; i++) {
        const { lines, exitCode } = await inTerminal(['exec', '-t', 'tty-exec', 'sh', '-c', `[ -t 0 ] && [ -t 1 ] && echo exec-marker-${i}; exit 3`]);
        if (!lines.includes(`exec-marker-${i}`) || exitCode !== 3) failures.push(`exec ${i}: exit ${exitCode}, output ${JSON.stringify(lines)}`);
      }
      expect(failures).toEqual([]);
      // A command that cannot run: 127 and the one line naming it, as without -t.
      const missing = await inTerminal(['exec', '-t', 'tty-exec', 'no-such-command']);
      expect(missing).toEqual({ lines: ['ribo: cannot run "no-such-command": no such command in the container (exit code 127)'], exitCode: 127 });
    } finally {
      await ribo(['rm', '-f', 'tty-exec'], opts());
    }
  }, 600_000);
});

describe('run -it in the foreground', () => {
  const tmux = (args: string[], options: { reject?: boolean } = {}) => execa('tmux', ['-L', 'ribo-e2e-terminal', ...args], options);
  beforeAll(async () => {
    await tmux(['kill-server'], { reject: false });
    await tmux(['new-session', '-d', '-s', 'keeper', 'sleep 3600']);
  });
  afterAll(async () => {
    await tmux(['kill-server'], { reject: false });
  });
  const screen = async (session: string) => (await tmux(['capture-pane', '-p', '-t', session])).stdout;

  it('Ctrl-C typed goes to the container through its terminal; ribo leaves with its exit code', async () => {
    const script = 'trap "echo got-int; exit 7" INT; stty size; echo ready; while :; do sleep 0.1; done';
    const command = `${quote(riboCommand(['run', '--rm', '-it', 'hello', 'sh', '-c', script]))}; echo "ribo-exit=$?"; sleep 30`;
    await tmux(['new-session', '-d', '-s', 'ctrl-c', '-x', '89', '-y', '26', command]);
    try {
      await until('the container to be ready', async () => (await screen('ctrl-c')).includes('ready'));
      await tmux(['send-keys', '-t', 'ctrl-c', 'C-c']);
      await until('ribo to leave', async () => (await screen('ctrl-c')).includes('ribo-exit='));
      const lines = (await screen('ctrl-c')).split('\n').map((l) => l.trimEnd()).filter(Boolean);
      // The terminal echoes the Ctrl-C as ^C before the trap's line.
      expect(lines[0]).toBe('26 89');
      expect(lines.some((l) => l.endsWith('got-int'))).toBe(true);
      expect(lines.at(-1)).toBe('ribo-exit=7');
      expect(await containerDirs()).toEqual([]);
    } finally {
      await tmux(['kill-session', '-t', 'ctrl-c'], { reject: false });
    }
  }, 120_000);
});
