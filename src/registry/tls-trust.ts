/**
 * Extra CA certificates for ribo's https clients. Node reads and parses the
 * file named by NODE_EXTRA_CA_CERTS at every start, before any code runs (about
 * 40 ms with a distribution's whole bundle), although most ribo commands open
 * no TLS connection. So bin/ribo hands the name over as RIBO_EXTRA_CA_CERTS and
 * clears NODE_EXTRA_CA_CERTS; the clients read the file when they are made.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

export interface TrustOptions {
  /** Node's own roots plus the extra certificates; absent when Node's defaults already apply. */
  ca?: string[];
}

export function extraCaTrust(env: NodeJS.ProcessEnv = process.env): TrustOptions {
  const file = env.RIBO_EXTRA_CA_CERTS;
  // Started as `node bin/ribo`, Node has loaded NODE_EXTRA_CA_CERTS itself.
  if (!file || env.NODE_EXTRA_CA_CERTS) return {};
  try {
    return { ca: [...rootCertificates, readFileSync(file, 'utf8')] };
  } catch (error) {
    // What Node does with a file it cannot read: warn and go on with its own roots.
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(error as Error).message}`);
    return {};
  }
}
