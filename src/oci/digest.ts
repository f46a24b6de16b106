import { createHash, type Hash } from 'node:crypto';
import { RiboError } from '../errors.js';
import type { Digest } from './image.js';

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export class InvalidDigestError extends RiboError {
  constructor(readonly digest: string, context: string) {
    super(`${context}: "${digest}" is not a valid digest; ribo expects "sha256:" followed by 64 lower-case hex digits.`);
  }
}

export function isDigest(value: string): boolean {
  return SHA256_DIGEST.test(value);
}

/** Throws a clear error unless `value` is a sha256 digest. */
export function assertDigest(value: string, context: string): Digest {
  if (!isDigest(value)) throw new InvalidDigestError(value, context);
  return value;
}

/** The hex part of a digest, used as the blob's file name. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export function sha256Hasher(): Hash {
  return createHash('sha256');
}

export function sha256Of(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function digestFromHash(hash: Hash): Digest {
  return `sha256:${hash.digest('hex')}`;
}
