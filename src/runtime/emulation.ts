/**
 * Running containers of another architecture: the kernel's binfmt_misc hands
 * a foreign ELF binary to a QEMU user-mode emulator (Debian's
 * qemu-user-static registers one entry per architecture through
 * binfmt-support). With the F ("fix binary") flag the kernel opens the
 * emulator when the entry is registered, so it works inside a container whose
 * root file system has no QEMU: nothing in the container or in crun/runc
 * changes. This module tells whether a platform runs natively, and whether
 * binfmt_misc is ready to emulate it, naming the fix when it is not.
 */
import { readFile } from 'node:fs/promises';
import { RiboError } from '../errors.js';
import { isErrno } from '../files/errno.js';
import type { Platform } from '../oci/image.js';
import { formatPlatform, hostPlatform } from '../oci/platform.js';

export const BINFMT_MISC_DIR = '/proc/sys/fs/binfmt_misc';

/** QEMU's names for OCI architectures: qemu-user-static's entries are "qemu-NAME". */
const QEMU_NAMES: Record<string, string> = {
  amd64: 'x86_64', arm64: 'aarch64', arm: 'arm', '386': 'i386', ppc64le: 'ppc64le', ppc64: 'ppc64', s390x: 's390x',
  riscv64: 'riscv64', mips64le: 'mips64el', mips64: 'mips64', mipsle: 'mipsel', mips: 'mips', loong64: 'loongarch64',
};

/** Architectures a CPU runs besides its own (an x86-64 CPU runs i386 code). */
const ALSO_NATIVE: Record<string, string[]> = { amd64: ['386'] };

/** Whether a container of `platform` needs an emulator on this machine. */
export function needsEmulation(platform: Platform, host: Platform = hostPlatform()): boolean {
  if (platform.architecture === host.architecture) return false;
  return !(ALSO_NATIVE[host.architecture] ?? []).includes(platform.architecture);
}

/** The platform cannot run here; the message names what to install or enable. */
export class EmulationUnavailableError extends RiboError {}

export interface Emulator {
  /** The binfmt_misc entry, e.g. "qemu-aarch64". */
  entry: string;
  interpreter: string;
}

const INSTALL = 'apt-get install qemu-user-static binfmt-support';

/**
 * Checks that binfmt_misc is mounted and enabled and has an enabled entry with
 * the F flag for the platform's architecture (`dir` is binfmt_misc's mount
 * point). `what` says who asks ("RUN steps of stage final", "the container").
 */
export async function checkEmulation(platform: Platform, what: string, dir: string = BINFMT_MISC_DIR): Promise<Emulator> {
  const name = formatPlatform(platform);
  const cannot = `${what} cannot run: they are for ${name} and this machine is ${formatPlatform(hostPlatform())}`;
  if (platform.os !== 'linux') throw new EmulationUnavailableError(`${cannot}, and ribo runs only Linux containers. Build for a linux/... platform.`);
  const qemu = QEMU_NAMES[platform.architecture];
  if (!qemu) throw new EmulationUnavailableError(`${cannot}, and QEMU has no user-mode emulator for architecture "${platform.architecture}" that ribo knows of. Build or run it on a machine of that architecture.`);
  const entry = `qemu-${qemu}`;
  const status = await readIfExists(`${dir}/status`);
  if (status === undefined) {
    throw new EmulationUnavailableError(
      `${cannot}, and binfmt_misc, through which the kernel hands ${platform.architecture} programs to QEMU, is not mounted at ${dir}. ` +
        `As root: mount -t binfmt_misc binfmt_misc ${dir}; then, if ${entry} is still missing there, ${INSTALL} (or update-binfmts --enable).`,
    );
  }
  if (status.trim() !== 'enabled') throw new EmulationUnavailableError(`${cannot}, and binfmt_misc is disabled as a whole (${dir}/status). As root: echo 1 > ${dir}/status.`);
  const text = await readIfExists(`${dir}/${entry}`);
  if (text === undefined) {
    throw new EmulationUnavailableError(
      `${cannot}, and binfmt_misc has no ${entry} entry to emulate it. As root: ${INSTALL} (they register QEMU for every architecture it emulates; ` +
        `if they are installed already, update-binfmts --enable ${entry}).`,
    );
  }
  const lines = text.split('\n');
  if (lines[0]?.trim() !== 'enabled') {
    throw new EmulationUnavailableError(`${cannot}, and the binfmt_misc entry ${dir}/${entry} is disabled. As root: update-binfmts --enable ${entry} (or echo 1 > ${dir}/${entry}).`);
  }
  const flags = lines.find((line) => line.startsWith('flags:'))?.slice('flags:'.length).trim() ?? '';
  const interpreter = lines.find((line) => line.startsWith('interpreter '))?.slice('interpreter '.length).trim() ?? '';
  if (!flags.includes('F')) {
    throw new EmulationUnavailableError(
      `${cannot}: the binfmt_misc entry ${entry} lacks the F flag, so the kernel would look for ${interpreter || 'its interpreter'} inside the container, where it does not exist. ` +
        `As root: ${INSTALL} (qemu-user-static registers its entries with F), or register ${entry} again with the F flag.`,
    );
  }
  return { entry, interpreter };
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}
