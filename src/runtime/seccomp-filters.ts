import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { RuntimeSpec } from '../oci/runtime-spec.js';

/**
 * crun's annotation for a seccomp filter already compiled to BPF (base64):
 * crun loads it instead of compiling linux.seccomp, which it still reads for
 * the filter's flags. Documented in crun(1); runc has no such thing.
 */
export const PRECOMPILED_SECCOMP_ANNOTATION = 'run.oci.seccomp_bpf_data';

/** Where a store keeps the compiled filters of one runtime: a dot-dir, which crun's `list` skips, in its state dir. */
export function seccompFilterDir(runtimeStateDir: string): string {
  return path.join(runtimeStateDir, '.ribo-seccomp');
}

/** How to run crun: its binary, its state dir and the options every invocation starts with (--root among them). */
export interface FilterCompiler {
  binary: string;
  stateDir: string;
  globalArgs: string[];
}

/**
 * Compiled seccomp filters, one file per profile. crun compiles the profile
 * with libseccomp at every container start, 20-25 ms of CPU here for podman's
 * profile (a whole `crun run` of `true` takes 36 ms with it, 15 ms without), and
 * Debian's crun 1.8 keeps no cache of its own. A filter is compiled once, by
 * crun itself (`create`, whose state dir then holds the BPF it loads), so the
 * bytes are exactly what crun would have loaded. The file's name digests the
 * profile and what the BPF depends on: crun's binary, the shared libraries
 * (libseccomp, through ld.so.cache, which every library upgrade rewrites),
 * the kernel and the architecture.
 */
export class SeccompFilters {
  constructor(
    private readonly dir: string,
    private readonly compiler: FilterCompiler,
  ) {}

  /** `config` with the compiled filter of its linux.seccomp as the annotation; unchanged when it cannot be had. */
  async precompiled(config: RuntimeSpec): Promise<RuntimeSpec> {
    const seccomp = config.linux?.seccomp;
    if (!seccomp || config.annotations?.[PRECOMPILED_SECCOMP_ANNOTATION]) return config;
    const filter = await this.filterFor(seccomp).catch(() => undefined);
    if (!filter) return config;
    return { ...config, annotations: { ...config.annotations, [PRECOMPILED_SECCOMP_ANNOTATION]: filter.toString('base64') } };
  }

  /** The BPF of `seccomp`, compiled now if no file holds it yet; undefined when crun cannot compile it. */
  async filterFor(seccomp: unknown): Promise<Buffer | undefined> {
    const file = path.join(this.dir, `${await this.key(seccomp)}.bpf`);
    const kept = await readFile(file).catch(() => undefined);
    if (kept && isFilter(kept)) return kept;
    const compiled = await this.compile(seccomp);
    if (!compiled || !isFilter(compiled)) return undefined;
    // Written beside and renamed: a reader never sees half a filter.
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(temp, compiled, { mode: 0o600 });
    await rename(temp, file).catch(async () => rm(temp, { force: true }));
    return compiled;
  }

  private async key(seccomp: unknown): Promise<string> {
    const identity = async (file: string) => stat(file).then((s) => `${file}:${s.size}:${s.mtimeMs}`, () => `${file}:-`);
    const hash = createHash('sha256');
    for (const part of [await identity(this.compiler.binary), await identity('/etc/ld.so.cache'), os.release(), os.version(), process.arch, JSON.stringify(seccomp)]) hash.update(`${part}\0`);
    return hash.digest('hex');
  }

  /**
   * Has crun create (never start) a container that is nothing but the filter:
   * crun compiles it into the container's state dir before the process would
   * start; the copy taken, the container is deleted.
   */
  private async compile(seccomp: unknown): Promise<Buffer | undefined> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.removeLeftovers();
    const name = `${COMPILING}${process.pid}-${randomBytes(4).toString('hex')}`;
    const work = path.join(this.dir, name);
    const id = `ribo-seccomp-${name}`;
    try {
      // crun opens the root's /dev to make the default devices, and checks that the command exists.
      await mkdir(path.join(work, 'rootfs', 'dev'), { recursive: true });
      await writeFile(path.join(work, 'rootfs', 'never-started'), '', { mode: 0o700 });
      const config = { ociVersion: '1.0.2', process: { args: ['/never-started'], cwd: '/', user: { uid: 0, gid: 0 } }, root: { path: 'rootfs' }, mounts: [], linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }], seccomp } };
      await writeFile(path.join(work, 'config.json'), JSON.stringify(config));
      // The created container's first process holds whatever streams it was given until it is deleted: none.
      const created = await execa(this.compiler.binary, [...this.compiler.globalArgs, 'create', '--bundle', work, id], { reject: false, stdio: 'ignore' });
      if (created.exitCode !== 0) return undefined;
      return await readFile(path.join(this.compiler.stateDir, id, 'seccomp.bpf')).catch(() => undefined);
    } finally {
      await this.removeContainer(id);
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Kills the created container's waiting process, then deletes the
   * container: without a cgroup of its own (rootless) `delete --force` alone
   * leaves that process waiting.
   */
  private async removeContainer(id: string): Promise<void> {
    await execa(this.compiler.binary, [...this.compiler.globalArgs, 'kill', id, 'KILL'], { reject: false, stdio: 'ignore' });
    await execa(this.compiler.binary, [...this.compiler.globalArgs, 'delete', '--force', id], { reject: false, stdio: 'ignore' });
  }

  /**
   * What a ribo killed while compiling left: its bundle and its created
   * container (whose process waits to be started), or a filter half written.
   */
  private async removeLeftovers(): Promise<void> {
    for (const entry of await readdir(this.dir).catch(() => [])) {
      const owner = LEFTOVER.exec(entry);
      const pid = Number(owner?.[1] ?? owner?.[2]);
      if (!owner || pid === process.pid || processExists(pid)) continue;
      if (owner[1]) await this.removeContainer(`ribo-seccomp-${entry}`);
      await rm(path.join(this.dir, entry), { recursive: true, force: true });
    }
  }
}

/** The prefix of a compilation's bundle dir, before the compiling process's pid. */
const COMPILING = 'compile-';
/** A compilation's bundle dir, or a filter's temp file: the pid of the process writing it. */
const LEFTOVER = /^(?:compile-([1-9][0-9]*)-[0-9a-f]+|[0-9a-f]{64}\.bpf\.([1-9][0-9]*)\.[0-9a-f]+)$/;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A BPF program: whole 8-byte instructions, at least one. */
function isFilter(data: Buffer): boolean {
  return data.length > 0 && data.length % 8 === 0;
}
