import { hostPlatform } from '../oci/platform.js';

/** The OCI architecture name of the machine ribo runs on (oci/platform.ts maps Node's names). */
export function hostArchitecture(arch: string = process.arch): string {
  return hostPlatform(arch).architecture;
}

/** The PATH Docker gives Linux containers whose image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
