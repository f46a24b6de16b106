/**
 * RUN --mount=type=ssh with `ribo build --ssh`: a real ssh-agent holding a
 * real key, asked for its identities from inside a Debian build step (perl
 * speaks the agent protocol), side by side with `buildah bud --ssh`; and
 * what the image keeps of it (nothing), the defaults BuildKit sets
 * (SSH_AUTH_SOCK, /run/buildkit/ssh_agent.N, 0600 root's) and the errors.
 */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lookupUser, makeOwnedDir, onPath, runAs, type User } from '../differential/cases.js';
import { E2E_USER, debianTarball, makeStore, removeStore, ribo, riboOk } from './harness.js';

const IMAGE = 'localhost/debian:bookworm';

/** Asks the agent at $SSH_AUTH_SOCK for its identities: the answer's type (12) and each key's comment. */
const AGENT_QUERY = `use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Peer => $ENV{SSH_AUTH_SOCK}) or die "connect $ENV{SSH_AUTH_SOCK}: $!\\n";
print $s pack("NC", 1, 11);
read($s, my $head, 4) == 4 or die "no answer\\n";
read($s, my $body, unpack("N", $head));
my ($type, $count) = unpack("CN", $body);
my ($at, @comments) = (5);
for (1 .. $count) {
  $at += 4 + unpack("N", substr($body, $at, 4));
  my $length = unpack("N", substr($body, $at, 4));
  push @comments, substr($body, $at + 4, $length);
  $at += 4 + $length;
}
print "answer $type, keys: @comments\\n";
`;

const DOCKERFILE = `FROM ${IMAGE}
RUN --mount=type=bind,source=query.pl,target=/query.pl --mount=type=ssh sh -c 'perl /query.pl > /agent.txt; echo "$SSH_AUTH_SOCK" > /sock.txt; stat -c "%a %u:%g %F" "$SSH_AUTH_SOCK" > /sock-stat.txt'
RUN --mount=type=bind,source=query.pl,target=/query.pl --mount=type=ssh,id=second,target=/tmp/agent,uid=1000,gid=1000,mode=0660 sh -c 'SSH_AUTH_SOCK=/tmp/agent perl /query.pl > /agent2.txt; stat -c "%a %u:%g" /tmp/agent > /sock2-stat.txt'
RUN sh -c '(test -e /run/buildkit && ls -A /run/buildkit || echo no /run/buildkit; ls -A /tmp) | xargs > /left.txt; echo "[$SSH_AUTH_SOCK]" > /env-after.txt'
`;

const FILES = ['/agent.txt', '/sock.txt', '/sock-stat.txt', '/agent2.txt', '/sock2-stat.txt', '/left.txt', '/env-after.txt'];

let user: User | undefined;
let work: string;
let root: string;
let context: string;
let agentSocket: string;
let agent: ReturnType<typeof execa> | undefined;

beforeAll(async () => {
  user = E2E_USER ? await lookupUser(E2E_USER) : undefined;
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-e2e-ssh-'));
  await execa('chmod', ['755', work]);
  const home = await makeOwnedDir(work, 'agent', user);
  agentSocket = path.join(home, 'agent.sock');
  // The agent runs as the user ribo runs as, as a user's own agent does.
  const words = ['ssh-agent', '-D', '-a', agentSocket];
  agent = user && process.getuid?.() === 0 ? execa('runuser', ['-u', user.name, '--', ...words]) : execa(words[0]!, words.slice(1));
  agent.catch(() => undefined);
  for (let i = 0; i < 100; i++) {
    if ((await execa('test', ['-S', agentSocket], { reject: false })).exitCode === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const key = path.join(home, 'id_test');
  expect((await runAs(user, 'ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ribo-e2e-key', '-f', key])).exitCode).toBe(0);
  expect((await runAs(user, 'ssh-add', [key], { env: { SSH_AUTH_SOCK: agentSocket } })).exitCode).toBe(0);
  root = await makeStore();
  await riboOk(['import', await debianTarball(), IMAGE], { root });
  context = await makeOwnedDir(work, 'ctx', user);
  await writeFile(path.join(context, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(context, 'query.pl'), AGENT_QUERY);
  await execa('chmod', ['-R', 'a+rX', context]);
}, 600_000);

afterAll(async () => {
  agent?.kill();
  await removeStore(root);
  await rm(work, { recursive: true, force: true });
});

/** The files the Dockerfile leaves, as `ribo run` reads them from the image. */
async function riboFiles(image: string): Promise<string> {
  return (await riboOk(['run', '--rm', image, 'sh', '-c', `for f in ${FILES.join(' ')}; do echo "$f: $(cat $f)"; done`], { root })).stdout;
}

it('forwards the agent: the step sees its key at /run/buildkit/ssh_agent.0 (0600 root\'s) and SSH_AUTH_SOCK, and a second mount where and as it asks', async () => {
  await riboOk(['build', '--ssh', 'default', '--ssh', `second=${agentSocket}`, '-t', 'ssh:1', context], { root, env: { SSH_AUTH_SOCK: agentSocket } });
  expect((await riboFiles('ssh:1')).trim().split('\n')).toEqual([
    '/agent.txt: answer 12, keys: ribo-e2e-key',
    '/sock.txt: /run/buildkit/ssh_agent.0',
    '/sock-stat.txt: 600 0:0 socket',
    '/agent2.txt: answer 12, keys: ribo-e2e-key',
    '/sock2-stat.txt: 660 1000:1000',
    // Nothing of the mounts stays: /run/buildkit is gone, /tmp as the base has it (empty).
    '/left.txt: no /run/buildkit',
    '/env-after.txt: []',
  ]);
}, 300_000);

it('leaves an optional mount out when the build has no such agent, and names the flag when a required one is missing or a key file is given', async () => {
  const optional = await makeOwnedDir(work, 'optional', user);
  await writeFile(path.join(optional, 'Dockerfile'), `FROM ${IMAGE}\nRUN --mount=type=ssh sh -c 'echo "$SSH_AUTH_SOCK"; test -e /run/buildkit/ssh_agent.0 && echo there || echo absent' > /seen.txt\n`);
  await riboOk(['build', '-t', 'ssh:2', optional], { root });
  expect((await riboOk(['run', '--rm', 'ssh:2', 'cat', '/seen.txt'], { root })).stdout.trim()).toBe('/run/buildkit/ssh_agent.0\nabsent');
  await writeFile(path.join(optional, 'Dockerfile'), `FROM ${IMAGE}\nRUN --mount=type=ssh,id=deploy,required true\n`);
  const missing = await ribo(['build', optional], { root });
  expect(missing.exitCode).not.toBe(0);
  expect(missing.stderr).toMatch(/Dockerfile:2.*SSH agent "deploy" is required.*ribo build --ssh deploy=SOCKET/s);
  const keyFile = await ribo(['build', '--ssh', `default=${path.join(work, 'agent', 'id_test')}`, optional], { root });
  expect(keyFile.exitCode).toBe(2);
  expect(keyFile.stderr).toMatch(/is not an agent's socket; ribo forwards SSH agents, not key files/);
  const unset = await ribo(['build', '--ssh', 'default', optional], { root, env: { SSH_AUTH_SOCK: '' } });
  expect(unset.stderr).toMatch(/SSH_AUTH_SOCK is not set/);
}, 300_000);

const withBuildah = (await onPath('buildah')) ? it : it.skip;

withBuildah('gives the step what buildah bud --ssh gives it', async () => {
  const storage = await makeOwnedDir(work, 'buildah', user);
  const env = { XDG_RUNTIME_DIR: path.join(storage, 'xdg'), XDG_DATA_HOME: path.join(storage, 'data'), XDG_CONFIG_HOME: path.join(storage, 'config'), SSH_AUTH_SOCK: agentSocket };
  const global = ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'run'), '--storage-driver', 'overlay'];
  const tool = async (command: string, args: string[]) => {
    const result = await runAs(user, command, [...global, ...args], { env });
    if (result.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.exitCode}:\n${result.stderr}`);
    return result.stdout;
  };
  await tool('podman', ['import', await debianTarball(), IMAGE]);
  await tool('buildah', ['bud', '--runtime', 'runc', '--ssh', 'default', '--ssh', `second=${agentSocket}`, '-t', 'ssh:1', context]);
  const container = (await tool('buildah', ['from', 'ssh:1'])).trim();
  const theirs = await tool('buildah', ['run', '--runtime', 'runc', container, 'sh', '-c', `for f in ${FILES.join(' ')}; do echo "$f: $(cat $f)"; done`]);
  await tool('buildah', ['rm', container]);
  await runAs(user, 'podman', [...global, 'unshare', 'rm', '-rf', path.join(storage, 'root'), path.join(storage, 'run')], { env });
  await riboOk(['build', '--ssh', 'default', '--ssh', `second=${agentSocket}`, '-t', 'ssh:3', context], { root, env: { SSH_AUTH_SOCK: agentSocket } });
  const mine = await riboFiles('ssh:3');
  // The agent's answer, where the socket is and how it is owned: the same, but for the default socket's
  // mode: buildah 1.28 makes it 0620, BuildKit (whose documented 0600 ribo follows) 0600.
  const facts = (text: string) => text.split('\n').filter((l) => /^\/(agent2?|sock|sock-stat|sock2-stat)\.txt:/.test(l));
  expect(facts(theirs)).toContain('/sock-stat.txt: 620 0:0 socket');
  expect(facts(mine)).toEqual(facts(theirs).map((l) => (l === '/sock-stat.txt: 620 0:0 socket' ? '/sock-stat.txt: 600 0:0 socket' : l)));
}, 600_000);
