/**
 * Extra CA certificates for ribo's https clients. Node reads and parses the
 * file named by NODE_EXTRA_CA_CERTS at every start, before any code runs (about
 * 40 ms with a distribution's whole bundle), although most ribo commands open
 * no TLS connection. So bin/ribo hands the name over as RIBO_EXTRA_CA_CERTS and
 * clears NODE_EXTRA_CA_CERTS; a TlsTrust reads the file at the first TLS
 * connection and makes one secure context for all of them.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

const normalized = (pem: string): string => pem.replace(/\s+/g, '');

export class TlsTrust {
  private context?: SecureContext | null;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /**
   * The context for a TLS connection, or undefined when Node's own (its roots,
   * plus NODE_EXTRA_CA_CERTS when Node was started with it) applies.
   */
  secureContext(): SecureContext | undefined {
    if (this.context === undefined) this.context = this.makeContext();
    return this.context ?? undefined;
  }

  /** The certificates to trust, or null for Node's own. */
  certificates(): string[] | null {
    const file = this.env.RIBO_EXTRA_CA_CERTS;
    // Started as `node bin/ribo`, Node has loaded NODE_EXTRA_CA_CERTS itself.
    if (!file || this.env.NODE_EXTRA_CA_CERTS) return null;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      // What Node does with a file it cannot read: warn and go on with its own roots.
      process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(error as Error).message}`);
      return null;
    }
    // A system bundle repeats most of Node's roots; parsing each certificate costs about 0.2 ms.
    const known = new Set(rootCertificates.map(normalized));
    const extra = (text.match(PEM_CERTIFICATE) ?? []).filter((pem) => !known.has(normalized(pem)));
    return [...rootCertificates, ...extra];
  }

  private makeContext(): SecureContext | null {
    const ca = this.certificates();
    return ca ? createSecureContext({ ca }) : null;
  }
}
