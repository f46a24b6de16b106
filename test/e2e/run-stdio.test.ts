/**
 * The standard streams a container gets: pipes (never sockets) in every
 * mode, so /dev/stdout and /dev/stderr open; docker's exit codes for a
 * command that cannot run; a terminal with -t that has the caller's size
 * and TERM; the host-side cost of detached containers.
 */
import { execa } from 'execa';
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { E2E_USER, makeContext, makeStore, removeStore, ribo, riboOk, type RiboOptions, until } from './harness.js';

const asRoot = process.getuid?.() === 0;
let root: string;
const contexts: string[] = [];
const opts = (extra: Partial<RiboOptions> = {}): RiboOptions => ({ root, ...extra });

/** Writes through /dev/stdout and /dev/stderr, and says what fd 1 is. */
const WRITE_BOTH = 'echo "to stdout" > /dev/stdout && echo "to stderr" > /dev/stderr && stat -L -c "fd1 is a %F" /dev/stdout';

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
function riboCommand(args: string[], env: string[] = []): string[] {
  const app = process.env.RIBO_E2E_APP ?? path.resolve('.');
  const fullEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env];
  const command = [process.execPath, path.join(app, 'bin/ribo'), '--root', root, ...args];
  if (E2E_USER && asRoot) return ['runuser', '-u', E2E_USER, '--', 'env', `HOME=/home/${E2E_USER}`, ...fullEnv, ...command];
  return ['env', ...fullEnv, ...command];
}

/** The pid of the monitor (conmon) of the detached container `name`. */
async function monitorPid(name: string): Promise<number> {
  const id = (await riboOk(['inspect', '--format', '{{.Id}}', name], opts())).stdout.trim();
  return (JSON.parse(await readFile(path.join(root, 'containers', id, 'state.json'), 'utf8')) as { monitor: { pid: number } }).monitor.pid;
}

/** How many sockets process `pid` has open. */
async function socketCount(pid: number): Promise<number> {
  let count = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')).startsWith('socket:')) count++;
  }
  return count;
}

const quote = (words: string[]) => words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' ');

describe('stdout and stderr are pipes', () => {
  it.each(['crun', 'runc'] as const)('in the foreground, through Node and through a run plan (%s)', async (runtime) => {
    // The first plain run goes through Node and leaves a plan; the second is carried out by the plan.
    for (const round of ['node', 'plan']) {
      const result = await ribo(['run', '--rm', 'hello', 'sh', '-c', WRITE_BOTH], opts({ runtime }));
      expect({ round, code: result.exitCode, stderr: result.stderr }).toEqual({ round, code: 0, stderr: 'to stderr' });
      expect(result.stdout).toBe('to stdout\nfd1 is a fifo');
    }
    // Flags the plan does not cover (-e) go through Node every time.
    const flagged = await riboOk(['run', '--rm', '-e', 'X=1', 'hello', 'sh', '-c', WRITE_BOTH], opts({ runtime }));
    expect(flagged.stdout).toBe('to stdout\nfd1 is a fifo');
  });

  it('detached: what is written to /dev/stdout and /dev/stderr shows in ribo logs -f', async () => {
    await riboOk(['run', '-d', '--name', 'piped', 'hello', 'sh', '-c', `sleep 0.5; ${WRITE_BOTH}`], opts());
    const logs = await riboOk(['logs', '-f', 'piped'], opts());
    expect(logs.stdout).toBe('to stdout\nfd1 is a fifo');
    expect(logs.stderr).toBe('to stderr');
    await riboOk(['rm', 'piped'], opts());
  });

  it('in ribo exec', async () => {
    await riboOk(['run', '-d', '--name', 'exec-pipes', 'hello', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'], opts());
    try {
      const result = await riboOk(['exec', 'exec-pipes', 'sh', '-c', WRITE_BOTH], opts());
      expect(result.stdout).toBe('to stdout\nfd1 is a fifo');
      expect(result.stderr).toBe('to stderr');
    } finally {
      await riboOk(['rm', '-f', 'exec-pipes'], opts());
    }
  });

  it('in a build RUN step, whose output shows both', async () => {
    const context = await makeContext({ Dockerfile: `FROM hello\nRUN ${WRITE_BOTH}\n` });
    contexts.push(context);
    const { stderr } = await riboOk(['build', '--progress=plain', '--no-cache', '-t', 'piped-build', context], opts());
    expect(stderr).toContain('to stdout');
    expect(stderr).toContain('to stderr');
    expect(stderr).toContain('fd1 is a fifo');
  });
});

describe('exit codes as docker\'s', () => {
  const cases = [
    { command: ['nosuchcmd'], code: 127, says: 'no such command' },
    { command: ['/app/greeting.txt'], code: 126, says: 'not executable' },
    { command: ['/app'], code: 126, says: 'not executable' },
  ];

  it.each(['crun', 'runc'] as const)('run: 127 for a command not found, 126 for one that is not executable, named in one line (%s)', async (runtime) => {
    for (const { command, code, says } of cases) {
      // Twice: through Node, then through the run plan the first left.
      for (const round of ['node', 'plan']) {
        const result = await ribo(['run', '--rm', 'hello', ...command], opts({ runtime }));
        expect({ round, command, code: result.exitCode }).toEqual({ round, command, code });
        const line = result.stderr.split('\n').find((l) => l.startsWith('ribo: cannot run'));
        expect(line).toMatch(new RegExp(`^ribo: cannot run "${command[0]}": .*${says}.* \\(exit code ${code}\\)$`));
      }
    }
    // Detached: conmon has the runtime create the container, which fails the same way.
    const detached = await ribo(['run', '-d', '--name', `missing-${runtime}`, 'hello', 'nosuchcmd'], opts({ runtime }));
    expect(detached.exitCode).toBe(127);
    expect(detached.stderr).toContain('nosuchcmd');
    // Settled when `run -d` returns: conmon's own clean-up (it runs even after a failed create) neither
    // records over the code nor still writes into the container's dir while `rm` removes it.
    expect((await riboOk(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', `missing-${runtime}`], opts())).stdout.trim()).toBe('exited 127');
    await riboOk(['rm', `missing-${runtime}`], opts());
    // A command that runs and fails keeps its own code.
    expect((await ribo(['run', '--rm', 'hello', 'sh', '-c', 'exit 127'], opts({ runtime }))).stderr).not.toContain('cannot run');
  });

  it('exec: 127 and 126 too', async () => {
    await riboOk(['run', '-d', '--name', 'exec-codes', 'hello', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'], opts());
    try {
      for (const { command, code } of cases) {
        const result = await ribo(['exec', 'exec-codes', ...command], opts());
        expect({ command, code: result.exitCode }).toEqual({ command, code });
        expect(result.stderr).toContain(`ribo: cannot run "${command[0]}"`);
      }
      expect((await ribo(['exec', 'exec-codes', 'sh', '-c', 'exit 3'], opts())).exitCode).toBe(3);
    } finally {
      await riboOk(['rm', '-f', 'exec-codes'], opts());
    }
  });
});

describe('-t', () => {
  // One tmux server of our own (named after this process: two runs of this file never share it) for the whole block, kept up by a session that idles: a server
  // that exits when its last session is killed races the next new-session, which then dies.
  const tmux = (args: string[], options: { reject?: boolean } = {}) => execa('tmux', ['-L', `ribo-e2e-stdio-${process.pid}`, ...args], options);
  beforeAll(async () => {
    await tmux(['kill-server'], { reject: false });
    await tmux(['new-session', '-d', '-s', 'keeper', 'sleep 3600']);
  });
  afterAll(async () => {
    await tmux(['kill-server'], { reject: false });
  });

  /** Runs ribo in a detached tmux session of the given size; returns the session name. */
  async function inTmux(name: string, command: string[], size: { x: number; y: number }): Promise<string> {
    await tmux(['kill-session', '-t', name], { reject: false });
    // The pane stays after ribo exits, so its last screen can be read.
    await tmux(['new-session', '-d', '-s', name, '-x', String(size.x), '-y', String(size.y), `${quote(command)}; sleep 30`]);
    return name;
  }
  const screen = async (session: string) => (await tmux(['capture-pane', '-p', '-t', session])).stdout;
  /** Waits until the session's screen shows `text`; a timeout says what the screen showed. */
  const shows = (session: string, what: string, text: string) =>
    until(what, async () => (await screen(session)).includes(text)).catch(async (error: Error) => {
      throw new Error(`${error.message}; the screen: ${JSON.stringify(await screen(session).catch(() => '(gone)'))}`);
    });

  it.each(['crun', 'runc'] as const)('gives the container the terminal\'s size and TERM, follows a resize, and shows only its output (%s)', async (runtime) => {
    // After the test's resize, it waits for its terminal to change size (the resize reaches it through tmux, ribo and conmon, each in its own time).
    const script = 'echo "TERM=$TERM"; stty size; while [ ! -e /app/resized ]; do sleep 0.1; done; while [ "$(stty size)" = "27 91" ]; do sleep 0.1; done; stty size; echo done';
    const session = await inTmux(`ribo-stdio-${runtime}`, riboCommand(['--runtime', runtime, 'run', '--name', `tty-${runtime}`, '-t', 'hello', 'sh', '-c', script], ['TERM=screen-256color']), { x: 91, y: 27 });
    try {
      await shows(session, 'the first size', '27 91');
      await tmux(['resize-window', '-t', session, '-x', '77', '-y', '19']);
      await riboOk(['exec', `tty-${runtime}`, 'touch', '/app/resized'], opts());
      await shows(session, 'the container to end', 'done');
      const lines = (await screen(session)).split('\n').map((l) => l.trimEnd()).filter(Boolean);
      // Nothing but the container's output: no runtime warnings.
      expect(lines).toEqual(['TERM=screen-256color', '27 91', '19 77', 'done']);
    } finally {
      await tmux(['kill-session', '-t', session], { reject: false });
      await ribo(['rm', '-f', `tty-${runtime}`], opts());
    }
  });

  it('exec -t: the command\'s terminal has the size of ribo\'s and follows it', async () => {
    await riboOk(['run', '-d', '--name', 'exec-tty', 'hello', 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'], opts());
    // The exec'd command's terminal gets its size from the runtime (process.json's consoleSize) just after the
    // command starts: on a loaded machine its first stty size can find it 0×0 and fail ("stty: standard input"),
    // so the script first waits for a size, then shows it. As above: after the resize, it waits for the new size.
    const sized = 'while :; do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; done; echo "$s"';
    const script = `echo "TERM=$TERM"; ${sized}; while [ ! -e /app/resized ]; do sleep 0.1; done; while [ "$(stty size)" = "23 83" ]; do sleep 0.1; done; stty size; echo done`;
    const session = await inTmux('ribo-stdio-exec', riboCommand(['exec', '-t', 'exec-tty', 'sh', '-c', script], ['TERM=vt220']), { x: 83, y: 23 });
    try {
      await shows(session, 'the first size', '23 83');
      await tmux(['resize-window', '-t', session, '-x', '71', '-y', '17']);
      await riboOk(['exec', 'exec-tty', 'touch', '/app/resized'], opts());
      await shows(session, 'the command to end', 'done');
      const lines = (await screen(session)).split('\n').map((l) => l.trimEnd()).filter(Boolean);
      expect(lines).toEqual(['TERM=vt220', '23 83', '17 71', 'done']);
    } finally {
      await tmux(['kill-session', '-t', session], { reject: false });
      await ribo(['rm', '-f', 'exec-tty'], opts());
    }
  });

  it('run -dt from a terminal starts the container at that terminal\'s size', async () => {
    const session = await inTmux('ribo-stdio-dt', riboCommand(['run', '-dt', '--name', 'dt-sized', 'hello', 'sh', '-c', 'stty size']), { x: 87, y: 21 });
    try {
      await until('the container to exit', async () => (await riboOk(['ps', '-a'], opts())).stdout.split('\n').some((l) => l.includes('dt-sized') && l.includes('Exited (0)')), 60_000);
      expect((await riboOk(['logs', 'dt-sized'], opts())).stdout.replace(/\r/g, '').trim()).toBe('21 87');
    } finally {
      await tmux(['kill-session', '-t', session], { reject: false });
      await ribo(['rm', '-f', 'dt-sized'], opts());
    }
  }, 90_000);

  it('ribo attach to a -dit container: typed input reaches its terminal, resizes follow, ctrl-p ctrl-q detaches', async () => {
    await riboOk(['run', '-dit', '--name', 'att-tty', 'hello', 'sh'], opts());
    const session = await inTmux('ribo-stdio-attach', ['sh', '-c', `${quote(riboCommand(['attach', 'att-tty']))}; echo "attach-exit=$?"`], { x: 85, y: 25 });
    try {
      // Typed before the connection is made, input waits in ribo's terminal; this settles once it is through.
      await until('the shell to answer', async () => {
        await tmux(['send-keys', '-t', session, 'echo ready-$((6*7))', 'Enter']);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return (await screen(session)).includes('ready-42');
      }, 60_000);
      await tmux(['send-keys', '-t', session, 'stty size', 'Enter']);
      await until('the first size', async () => (await screen(session)).includes('25 85'));
      await tmux(['resize-window', '-t', session, '-x', '73', '-y', '18']);
      await until('the new size', async () => {
        await tmux(['send-keys', '-t', session, 'stty size', 'Enter']);
        await new Promise((resolve) => setTimeout(resolve, 500));
        return (await screen(session)).includes('18 73');
      });
      await tmux(['send-keys', '-t', session, 'C-p', 'C-q']);
      await until('ribo attach to leave', async () => (await screen(session)).includes('attach-exit=0'));
      // Detached, not ended: the shell still runs and still reads its terminal.
      expect((await riboOk(['ps'], opts())).stdout).toContain('att-tty');
      expect((await riboOk(['exec', 'att-tty', 'sh', '-c', 'echo exec-ok'], opts())).stdout).toBe('exec-ok');
    } finally {
      await tmux(['kill-session', '-t', session], { reject: false });
      await ribo(['rm', '-f', 'att-tty'], opts());
    }
  }, 120_000);

  it('sets TERM=xterm when the caller has none, as docker', async () => {
    // script(1) gives ribo a terminal with no TERM in its environment; its stdin stays open until the run ends.
    const command = quote(['env', '-u', 'TERM', ...riboCommand(['run', '--rm', '-t', 'hello', 'sh', '-c', 'echo "TERM=$TERM"; echo done'])]);
    const result = await execa('script', ['-qec', command, '/dev/null'], { reject: false, env: { TERM: '' }, timeout: 120_000 });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n').map((l) => l.trimEnd()).filter(Boolean)).toEqual(['TERM=xterm', 'done']);
  });
});

describe('detached containers under conmon', () => {
  it('cost little on the host: the monitors of 10 detached containers', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `idle-${i}`);
    try {
      for (const name of names) await riboOk(['run', '-d', '--name', name, 'hello', 'sleep', '300'], opts());
      let totalKb = 0;
      for (const name of names) {
        const { stdout } = await riboOk(['inspect', '--format', '{{.Id}}', name], opts());
        const record = JSON.parse(await readFile(path.join(root, 'containers', stdout.trim(), 'state.json'), 'utf8')) as { monitor: { pid: number } };
        const status = await readFile(`/proc/${record.monitor.pid}/status`, 'utf8');
        expect(status).toMatch(/^Name:\s+conmon$/m);
        totalKb += Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]);
      }
      console.log(`resident memory of 10 detached containers' monitors: ${(totalKb / 1024).toFixed(1)} MB`);
      expect(totalKb).toBeLessThan(10 * 5 * 1024);
    } finally {
      await ribo(['rm', '-f', ...names], opts());
    }
  }, 120_000);

  it.each(['fuse-overlayfs', 'copy'] as const)('with the %s driver too: conmon alone stays, the changes are kept, and nothing is left once it ends', async (driver) => {
    const withDriver = opts({ driver });
    const id = (await riboOk(['run', '-d', '--network', 'none', 'hello', 'sh', '-c', 'echo changed > /app/new.txt; rm /app/greeting.txt; while [ ! -e /app/go ]; do sleep 0.1; done; echo bye'], withDriver)).stdout;
    try {
      const dir = path.join(root, 'containers', id);
      const record = JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')) as { monitor: { pid: number }; driver: string };
      expect(record.driver).toBe(driver);
      expect(await readFile(`/proc/${record.monitor.pid}/status`, 'utf8')).toMatch(/^Name:\s+conmon$/m);
      // The processes besides conmon that name the container's dir (fuse-overlayfs with that driver); none once it ended.
      const helpers = async () => {
        const names: string[] = [];
        for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
          const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          const name = cmdline.split('\0')[0]!.split('/').at(-1)!;
          if (cmdline.includes(dir) && name !== 'conmon' && !cmdline.includes('container-cleanup')) names.push(name);
        }
        return names.sort();
      };
      if (driver === 'fuse-overlayfs') expect(await helpers()).toContain('fuse-overlayfs');
      await riboOk(['exec', id, 'touch', '/app/go'], withDriver);
      expect((await riboOk(['wait', id], withDriver)).stdout).toBe('0');
      expect((await riboOk(['logs', id], withDriver)).stdout).toBe('bye');
      expect(await readFile(path.join(dir, 'upper', 'app', 'new.txt'), 'utf8')).toBe('changed\n');
      await until('the helpers to end', async () => (await helpers()).length === 0);
    } finally {
      await ribo(['rm', '-f', id], withDriver);
    }
  }, 120_000);

  it('ribo attach shows a running container\'s output as it comes and leaves with its exit code', async () => {
    await riboOk(['run', '-d', '--name', 'talker', 'hello', 'sh', '-c', 'echo before; while [ ! -e /app/go ]; do sleep 0.1; done; echo after-1; echo after-2 >&2; exit 4'], opts());
    try {
      // conmon holds one more socket once it has taken ribo attach's connection: from then on output reaches it.
      const monitor = await monitorPid('talker');
      const before = await socketCount(monitor);
      const attached = execa(riboCommand(['attach', 'talker'])[0]!, riboCommand(['attach', 'talker']).slice(1), { reject: false, stdin: 'ignore' });
      await until('ribo attach to connect', async () => (await socketCount(monitor)) > before, 60_000);
      await riboOk(['exec', 'talker', 'touch', '/app/go'], opts());
      const result = await attached;
      expect(result.stdout).toBe('after-1');
      expect(result.stderr).toBe('after-2');
      expect(result.exitCode).toBe(4);
      const stopped = await ribo(['attach', 'talker'], opts());
      expect(stopped.exitCode).toBe(2);
      expect(stopped.stderr).toContain('not running');
    } finally {
      await ribo(['rm', '-f', 'talker'], opts());
    }
  });

  it('ribo attach passes its input to a container run with -di', async () => {
    await riboOk(['run', '-di', '--name', 'reader', 'hello', 'sh', '-c', 'while read line; do echo "got $line"; [ "$line" = last ] && exit 5; done'], opts());
    try {
      const command = riboCommand(['attach', 'reader']);
      const result = await execa(command[0]!, command.slice(1), { reject: false, input: 'first\nlast\n' });
      expect(result.stdout).toBe('got first\ngot last');
      expect(result.exitCode).toBe(5);
    } finally {
      await ribo(['rm', '-f', 'reader'], opts());
    }
  });

  it('run -dt gives a detached container a terminal; its output is in the logs', async () => {
    await riboOk(['run', '-dt', '--name', 'with-tty', 'hello', 'sh', '-c', '[ -t 1 ] && echo "terminal TERM=$TERM"; stty size'], opts());
    try {
      await until('the container to exit', async () => (await riboOk(['ps', '-a'], opts())).stdout.split('\n').some((l) => l.includes('with-tty') && l.includes('Exited (0)')));
      // Started without a terminal of ribo's: docker's 80×24, not 0×0.
      expect((await riboOk(['logs', 'with-tty'], opts())).stdout.replace(/\r/g, '').trim()).toBe('terminal TERM=xterm\n24 80');
    } finally {
      await ribo(['rm', '-f', 'with-tty'], opts());
    }
  });
});
