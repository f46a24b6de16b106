/** Platforms ("os/arch[/variant]") and the predefined platform build arguments. */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's process.arch names to OCI architecture (and default variant). */
const NODE_ARCH: Record<string, { architecture: string; variant?: string }> = {
  x64: { architecture: 'amd64' },
  arm64: { architecture: 'arm64' },
  arm: { architecture: 'arm', variant: 'v7' },
  ia32: { architecture: '386' },
  ppc64: { architecture: 'ppc64le' },
  s390x: { architecture: 's390x' },
  riscv64: { architecture: 'riscv64' },
  loong64: { architecture: 'loong64' },
  mips: { architecture: 'mips' },
  mipsel: { architecture: 'mipsle' },
};

export function hostPlatform(arch: string = process.arch): Platform {
  const known = NODE_ARCH[arch] ?? { architecture: arch };
  return { os: 'linux', ...known };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Parse "linux/arm64/v8", "linux/amd64" or just "arm64" (OS defaults to linux). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length === 1) return { os: 'linux', architecture: normalizeArch(parts[0]!) };
  const [os, arch, variant] = parts as [string, string, string | undefined];
  const architecture = normalizeArch(arch);
  let normalizedVariant = variant || undefined;
  if (architecture === 'arm64' && normalizedVariant === 'v8') normalizedVariant = undefined;
  if (architecture === 'arm' && !normalizedVariant) normalizedVariant = 'v7';
  return { os, architecture, variant: normalizedVariant };
}

function normalizeArch(arch: string): string {
  switch (arch) {
    case 'x86_64': case 'x86-64': return 'amd64';
    case 'aarch64': return 'arm64';
    case 'i386': case 'i686': return '386';
    case 'armhf': return 'arm';
    default: return arch;
  }
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
