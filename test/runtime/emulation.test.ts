import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkEmulation, EmulationUnavailableError, needsEmulation } from '../../src/runtime/emulation.js';

const arm64 = { os: 'linux', architecture: 'arm64' };
const entry = (state: string, flags: string) =>
  `${state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: ${flags}\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n`;

describe('emulation through binfmt_misc', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-binfmt-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('knows what runs natively: the same architecture, i386 code on x86-64', () => {
    expect(needsEmulation({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64' })).toBe(false);
    expect(needsEmulation({ os: 'linux', architecture: '386' }, { os: 'linux', architecture: 'amd64' })).toBe(false);
    expect(needsEmulation(arm64, { os: 'linux', architecture: 'amd64' })).toBe(true);
    expect(needsEmulation({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' })).toBe(true);
  });

  it('accepts an enabled entry with the F flag', async () => {
    await writeFile(path.join(dir, 'status'), 'enabled\n');
    await writeFile(path.join(dir, 'qemu-aarch64'), entry('enabled', 'PF'));
    await expect(checkEmulation(arm64, 'RUN steps', dir)).resolves.toEqual({ entry: 'qemu-aarch64', interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P' });
  });

  it.each([
    ['binfmt_misc not mounted', {}, 'mount -t binfmt_misc binfmt_misc'],
    ['binfmt_misc disabled', { status: 'disabled\n' }, `is disabled as a whole`],
    ['no entry', { status: 'enabled\n' }, 'has no qemu-aarch64 entry to emulate it. As root: apt-get install qemu-user-static binfmt-support'],
    ['a disabled entry', { status: 'enabled\n', 'qemu-aarch64': entry('disabled', 'PF') }, 'qemu-aarch64 is disabled. As root: update-binfmts --enable qemu-aarch64'],
    ['an entry without F', { status: 'enabled\n', 'qemu-aarch64': entry('enabled', 'P') }, 'lacks the F flag'],
  ])('refuses with the fix: %s', async (_name, files: Record<string, string>, fix) => {
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    const check = checkEmulation(arm64, 'RUN steps', dir);
    await expect(check).rejects.toBeInstanceOf(EmulationUnavailableError);
    await expect(check).rejects.toThrow(fix);
  });

  it('names platforms it cannot emulate at all', async () => {
    await expect(checkEmulation({ os: 'windows', architecture: 'amd64' }, 'RUN steps', dir)).rejects.toThrow('only Linux containers');
    await expect(checkEmulation({ os: 'linux', architecture: 'ia64' }, 'RUN steps', dir)).rejects.toThrow('no user-mode emulator for architecture "ia64"');
  });
});
