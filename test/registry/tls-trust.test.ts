import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { TlsTrust } from '../../src/registry/tls-trust.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ribo-trust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle as a distribution ships it: Node's roots (differently wrapped) and one private CA. */
function bundle(): { file: string; privateCa: string } {
  const certFile = path.join(dir, 'private-ca.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-subj', '/CN=ribo test CA', '-days', '1', '-out', certFile], { stdio: 'ignore' });
  const privateCa = readFileSync(certFile, 'utf8').trim();
  const file = path.join(dir, 'bundle.pem');
  writeFileSync(file, [...rootCertificates.map((pem) => `# a root\n${pem.replace(/\n/g, '\r\n')}`), privateCa].join('\n'));
  return { file, privateCa };
}

describe('TlsTrust', () => {
  it('trusts Node\'s roots plus the certificates of RIBO_EXTRA_CA_CERTS that are not among them', () => {
    const { file, privateCa } = bundle();
    const trust = new TlsTrust({ RIBO_EXTRA_CA_CERTS: file });
    expect(trust.certificates()).toEqual([...rootCertificates, privateCa]);
    const context = trust.secureContext();
    expect(context).toBeDefined();
    // One context for every connection: making it parses every certificate.
    expect(trust.secureContext()).toBe(context);
  });

  it('leaves Node\'s defaults alone when nothing was handed over, or when Node loaded the file itself', () => {
    expect(new TlsTrust({}).secureContext()).toBeUndefined();
    expect(new TlsTrust({ RIBO_EXTRA_CA_CERTS: '/x.pem', NODE_EXTRA_CA_CERTS: '/x.pem' }).secureContext()).toBeUndefined();
  });

  it('warns, naming the file, and goes on with the default roots when the file cannot be read', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(new TlsTrust({ RIBO_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') }).secureContext()).toBeUndefined();
      expect(String(warn.mock.calls[0]![0])).toContain('missing.pem');
    } finally {
      warn.mockRestore();
    }
  });
});
