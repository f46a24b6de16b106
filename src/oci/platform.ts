/**
 * Platforms as the OCI image spec writes them (an index entry's `platform`,
 * a config's architecture/os/variant): the host's, their "os/arch[/variant]"
 * spelling, and choosing an index entry for one. Pure; parsing of users'
 * spellings (x86_64, aarch64...) is the Dockerfile front end's (dockerfile/platform.ts).
 */
import type { Descriptor, ImageConfig, Platform } from './image.js';

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

/** The platform of the machine ribo runs on. */
export function hostPlatform(arch: string = process.arch): Platform {
  return { os: 'linux', ...(NODE_ARCH[arch] ?? { architecture: arch }) };
}

export function formatPlatform(p: Pick<Platform, 'os' | 'architecture' | 'variant'>): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Same os, architecture and variant; arm64 without a variant is arm64/v8 (containerd's rule). */
export function samePlatform(a: Platform, b: Platform): boolean {
  const variant = (p: Platform) => (p.architecture === 'arm64' && p.variant === 'v8' ? '' : (p.variant ?? ''));
  return a.os === b.os && a.architecture === b.architecture && variant(a) === variant(b);
}

/** The platform an image config says it is for. */
export function configPlatform(config: Pick<ImageConfig, 'os' | 'architecture'> & { variant?: string }): Platform {
  return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
}

/** The entry of an index for `wanted`: same os and architecture, and variant when one is asked for. */
export function selectPlatform(manifests: readonly Descriptor[], wanted: Platform): Descriptor | undefined {
  const candidates = manifests.filter((m) => m.platform?.os === wanted.os && m.platform.architecture === wanted.architecture);
  if (wanted.variant) return candidates.find((m) => samePlatform(m.platform!, wanted));
  return candidates.find((m) => !m.platform?.variant) ?? candidates.find((m) => m.platform?.variant === 'v8') ?? candidates[0];
}
