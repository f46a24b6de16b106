/**
 * The store of compiled seccomp filters, with a stand-in crun that does what
 * crun's `create` does for them (writes the compiled BPF into the container's
 * state dir) and logs each call. Whether the real crun's filter confines a
 * container is for the e2e tests (run-security, run-plan).
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PRECOMPILED_SECCOMP_ANNOTATION, SeccompFilters, seccompFilterDir } from '../../src/runtime/seccomp-filters.js';
import type { RuntimeSpec } from '../../src/oci/runtime-spec.js';

// create: the "BPF" is 16 bytes of the profile's digest (a different profile, a different filter); FAIL makes it fail.
const STAND_IN = `#!/bin/sh
root=$2; shift 3
echo "$*" >> "$root/calls.log"
case $1 in
  create) [ -z "$FAIL" ] || exit 1; mkdir -p "$root/$4"; sha256sum "$3/config.json" | head -c 16 > "$root/$4/seccomp.bpf" ;;
  kill) [ -d "$root/$2" ] ;;
  delete) rm -rf "$root/$3" ;;
esac
`;

let work: string;
let stateDir: string;
let crun: string;

function filtersFor(binary = crun): SeccompFilters {
  return new SeccompFilters(seccompFilterDir(stateDir), { binary, stateDir, globalArgs: ['--root', stateDir, '--cgroup-manager=disabled'] });
}
const config = (syscall: string): RuntimeSpec => ({ ociVersion: '1.0.2', linux: { seccomp: { defaultAction: 'SCMP_ACT_ERRNO', architectures: [], syscalls: [{ names: [syscall], action: 'SCMP_ACT_ALLOW' }] } } as RuntimeSpec['linux'] });
const calls = async () => (await readFile(path.join(stateDir, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ribo-seccomp-filters-'));
  stateDir = path.join(work, 'run/crun');
  await mkdir(stateDir, { recursive: true });
  crun = path.join(work, 'crun');
  await writeFile(crun, STAND_IN);
  await chmod(crun, 0o755);
  delete process.env['FAIL'];
});

afterEach(async () => {
  delete process.env['FAIL'];
  await rm(work, { recursive: true, force: true });
});

describe('compiled seccomp filters for crun', () => {
  it('compiles a profile once, through crun create and delete, and gives it as the annotation from then on', async () => {
    const first = await filtersFor().precompiled(config('read'));
    const data = first.annotations?.[PRECOMPILED_SECCOMP_ANNOTATION];
    expect(Buffer.from(data!, 'base64')).toHaveLength(16);
    // The profile stays: crun still reads its flags, and runc would use it.
    expect(first.linux?.seccomp).toEqual(config('read').linux?.seccomp);
    expect((await calls()).map((c) => c.split(' ')[0])).toEqual(['create', 'kill', 'delete']);
    // A second session finds the file: no crun call, the same bytes.
    const again = await filtersFor().precompiled(config('read'));
    expect(again.annotations?.[PRECOMPILED_SECCOMP_ANNOTATION]).toBe(data);
    expect(await calls()).toHaveLength(3);
    // Nothing of the compilation is left: no bundle, no container state.
    expect((await readdir(seccompFilterDir(stateDir))).filter((e) => !e.endsWith('.bpf'))).toEqual([]);
    expect((await readdir(stateDir)).sort()).toEqual(['.ribo-seccomp', 'calls.log']);
  });

  it('keeps one filter per profile, and another crun binary compiles its own', async () => {
    const read = (await filtersFor().precompiled(config('read'))).annotations?.[PRECOMPILED_SECCOMP_ANNOTATION];
    const write = (await filtersFor().precompiled(config('write'))).annotations?.[PRECOMPILED_SECCOMP_ANNOTATION];
    expect(write).not.toBe(read);
    const other = path.join(work, 'crun-2');
    await writeFile(other, STAND_IN, { mode: 0o755 });
    await filtersFor(other).precompiled(config('read'));
    expect((await readdir(seccompFilterDir(stateDir))).filter((e) => e.endsWith('.bpf'))).toHaveLength(3);
  });

  it('compiles again over a damaged file (not whole 8-byte instructions)', async () => {
    await filtersFor().precompiled(config('read'));
    const [file] = (await readdir(seccompFilterDir(stateDir))).filter((e) => e.endsWith('.bpf'));
    await truncate(path.join(seccompFilterDir(stateDir), file!), 5);
    const mended = await filtersFor().precompiled(config('read'));
    expect(Buffer.from(mended.annotations![PRECOMPILED_SECCOMP_ANNOTATION]!, 'base64')).toHaveLength(16);
    expect((await calls()).filter((c) => c.startsWith('create'))).toHaveLength(2);
  });

  it('leaves the config as it is when crun cannot compile (crun then compiles at start, as without the cache)', async () => {
    process.env['FAIL'] = '1';
    const given = config('read');
    expect(await filtersFor().precompiled(given)).toBe(given);
    // The created container is killed and deleted even so.
    expect((await calls()).map((c) => c.split(' ')[0])).toEqual(['create', 'kill', 'delete']);
  });

  it('leaves a config without a profile (seccomp=unconfined) alone', async () => {
    const unconfined: RuntimeSpec = { ociVersion: '1.0.2', linux: {} };
    expect(await filtersFor().precompiled(unconfined)).toBe(unconfined);
    expect(await calls()).toEqual([]);
  });

  it('removes what a compiling ribo that was killed left, and deletes its created container', async () => {
    const dir = seccompFilterDir(stateDir);
    await mkdir(path.join(dir, 'compile-999999999-abcd1234', 'rootfs'), { recursive: true });
    await writeFile(path.join(dir, `${'a'.repeat(64)}.bpf.999999999.beef`), 'half');
    // A live process's compilation is its own.
    await mkdir(path.join(dir, `compile-${process.ppid}-abcd1234`));
    await filtersFor().precompiled(config('read'));
    const left = await readdir(dir);
    expect(left).toContain(`compile-${process.ppid}-abcd1234`);
    expect(left.filter((e) => e.includes('999999999'))).toEqual([]);
    expect(await calls()).toContain('kill ribo-seccomp-compile-999999999-abcd1234 KILL');
    expect(await calls()).toContain('delete --force ribo-seccomp-compile-999999999-abcd1234');
  });
});
