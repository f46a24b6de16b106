import { execa } from 'execa';

/**
 * crun copies its own binary into a sealed memfd and executes that copy at
 * every start (about 3 ms here): its guard against a container that rewrites
 * the runtime through /proc/self/exe (CVE-2019-5736). It skips the copy when
 * its binary is on a read-only mount, which guards it as well. So, in ribo's
 * own mount namespace (the host's mounts are not touched), the binary is bound
 * read-only over itself, once. bin/run-plan.sh does the same for planned runs.
 * runc 1.1 gains nothing from it (measured) and is left alone. A failure only
 * costs the copy.
 */
export async function bindReadOnlyOverItself(binary: string): Promise<boolean> {
  const result = await execa('mount', ['--bind', '-o', 'ro', binary, binary], { reject: false });
  return result.exitCode === 0;
}
