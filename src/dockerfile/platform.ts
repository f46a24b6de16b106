/** Platforms ("os/arch[/variant]") and the predefined platform build arguments. */

// The platform type, the host's platform (Node's process.arch in OCI's names) and the "os/arch[/variant]"
// spelling have one home, the OCI layer, which this pure front end may import (docs/architecture.md).
import { formatPlatform, hostPlatform } from '../oci/platform.js';
import type { Platform } from '../oci/image.js';

export { formatPlatform, hostPlatform, type Platform };

const KNOWN_OS = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'android', 'ios', 'js', 'wasip1', 'plan9', 'dragonfly']);

/**
 * Parse and normalise a platform as BuildKit does (containerd's rules):
 * "linux/arm64/v8", "linux/amd64", just an architecture ("arm64", OS linux)
 * or just an OS ("linux", this machine's architecture); x86_64 is amd64,
 * aarch64 is arm64, amd64/v1 and arm64/v8 are plain amd64 and arm64, arm
 * defaults to v7.
 */
export function parsePlatform(text: string, host: Platform = hostPlatform()): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length === 1) {
    if (KNOWN_OS.has(parts[0]!)) return { ...host, os: parts[0]! };
    return normalize('linux', parts[0]!, undefined);
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  return normalize(os, arch, variant);
}

function normalize(os: string, arch: string, variant: string | undefined): Platform {
  const architecture = normalizeArch(arch);
  let normalizedVariant = variant || undefined;
  if (arch === 'armel' && !normalizedVariant) normalizedVariant = 'v6';
  if (architecture === 'amd64' && normalizedVariant === 'v1') normalizedVariant = undefined;
  if (architecture === 'arm64' && (normalizedVariant === 'v8' || normalizedVariant === '8' || normalizedVariant === 'v8.0')) normalizedVariant = undefined;
  if (architecture === 'arm' && !normalizedVariant) normalizedVariant = 'v7';
  if (architecture === 'arm' && normalizedVariant && /^\d/.test(normalizedVariant)) normalizedVariant = `v${normalizedVariant}`;
  return normalizedVariant ? { os, architecture, variant: normalizedVariant } : { os, architecture };
}

function normalizeArch(arch: string): string {
  switch (arch) {
    case 'x86_64': case 'x86-64': return 'amd64';
    case 'aarch64': return 'arm64';
    case 'i386': case 'i686': return '386';
    case 'armhf': case 'armel': return 'arm';
    default: return arch;
  }
}

/** True when both name the same platform once normalised ("linux/amd64/v1" is "linux/amd64"). */
export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

/** TARGETPLATFORM, TARGETOS... and BUILDPLATFORM, BUILDOS... */
export function platformArgs(target: Platform, build: Platform): Map<string, string> {
  const args = new Map<string, string>();
  for (const [prefix, p] of [['TARGET', target], ['BUILD', build]] as const) {
    args.set(`${prefix}PLATFORM`, formatPlatform(p));
    args.set(`${prefix}OS`, p.os);
    args.set(`${prefix}ARCH`, p.architecture);
    args.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return args;
}

/** Build arguments Docker accepts without an ARG instruction. */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];
