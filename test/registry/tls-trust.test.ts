import { jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { extraCaTrust } from '../../src/registry/tls-trust.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ribo-trust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Any PEM text will do: extraCaTrust passes it on, the TLS layer parses it.
const pem = rootCertificates[0]!;

describe('extraCaTrust', () => {
  it('adds the certificates named by RIBO_EXTRA_CA_CERTS to Node\'s own roots', () => {
    const file = path.join(dir, 'ca.pem');
    writeFileSync(file, pem);
    const trust = extraCaTrust({ RIBO_EXTRA_CA_CERTS: file });
    expect(trust.ca).toHaveLength(rootCertificates.length + 1);
    expect(trust.ca!.slice(0, -1)).toEqual([...rootCertificates]);
    expect(trust.ca!.at(-1)).toBe(pem);
  });

  it('leaves Node\'s defaults alone when nothing was handed over, or when Node loaded the file itself', () => {
    expect(extraCaTrust({})).toEqual({});
    expect(extraCaTrust({ RIBO_EXTRA_CA_CERTS: '/x.pem', NODE_EXTRA_CA_CERTS: '/x.pem' })).toEqual({});
  });

  it('warns, naming the file, and goes on with the default roots when the file cannot be read', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(extraCaTrust({ RIBO_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') })).toEqual({});
      expect(String(warn.mock.calls[0]![0])).toContain('missing.pem');
    } finally {
      warn.mockRestore();
    }
  });
});
