import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseSshAgents } from '../../src/cli/build-flags.js';
import { UsageError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ribo-ssh-flag-'));
const socket = path.join(dir, 'agent.sock');
const keyFile = path.join(dir, 'id_ed25519');
const server = net.createServer();
beforeAll(() => new Promise<void>((resolve) => server.listen(socket, resolve)));
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const refusal = (values: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    parseSshAgents(values, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('not refused');
};

it('takes default and ID from SSH_AUTH_SOCK, ID=SOCKET as given', () => {
  expect([...parseSshAgents(['default', 'work', `other=${socket}`], { SSH_AUTH_SOCK: socket })]).toEqual([['default', socket], ['work', socket], ['other', socket]]);
});

it('names what is missing and the fix: no agent, no such socket, a key file', () => {
  expect(refusal(['default'])).toMatch(/^--ssh default: SSH_AUTH_SOCK is not set.*eval \$\(ssh-agent\)/);
  expect(refusal([`x=${path.join(dir, 'gone.sock')}`])).toMatch(/gone\.sock does not exist/);
  writeFileSync(keyFile, 'not a socket');
  expect(refusal([`x=${keyFile}`])).toMatch(/is not an agent's socket; ribo forwards SSH agents, not key files: add the key to an agent \(ssh-add .*id_ed25519\) and give --ssh x\./);
  expect(refusal(['=x'])).toMatch(/expected default or ID\[=SOCKET\]/);
});
