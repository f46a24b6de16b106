/**
 * The busybox a run plan names (plan_busybox), whose applets bin/run-plan.sh
 * runs instead of coreutils' and util-linux's programs of the same names.
 *
 * Why: a planned run starts some ten short processes, and each start is paid
 * on its critical path. coreutils' mkdir, mv and the like load libselinux,
 * libpcre2, libacl and libattr before they do their one system call: about
 * 1.6 ms each here, against 0.8 ms for busybox's static build (Debian's
 * busybox-static) doing the same. flock(1) and mount(8) stay util-linux's:
 * busybox has no flock, and its mount does not make a bind read-only.
 */
import { execFile } from 'node:child_process';
import { findExecutable } from '../files/executables.js';

/** The applets bin/run-plan.sh and bin/run-plan-record.sh run through the plan's busybox. */
export const PLAN_APPLETS: readonly string[] = ['cat', 'mkdir', 'mkfifo', 'mv', 'rm', 'sleep', 'umount', 'unshare'];

/** The path of a busybox on PATH that has every applet a plan uses, or '' (the shell then runs the usual programs). */
export async function planBusybox(searchPath?: string): Promise<string> {
  const binary = await findExecutable('busybox', searchPath);
  if (!binary || !/^\/[a-zA-Z0-9._/+@%=~-]*$/.test(binary)) return '';
  const listed = await new Promise<string>((resolve) => {
    execFile(binary, ['--list'], { timeout: 5000 }, (error, stdout) => resolve(error ? '' : stdout));
  });
  const applets = new Set(listed.split('\n'));
  return PLAN_APPLETS.every((applet) => applets.has(applet)) ? binary : '';
}
