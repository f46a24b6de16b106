import { RegistryNetworkError, unreachableReason } from '../../src/registry/errors.js';

const failure = (code: string, message: string) => Object.assign(new Error(message), { code }) as NodeJS.ErrnoException;
const url = new URL('https://registry.example:5000/v2/');

describe('a registry that cannot be reached', () => {
  it.each([
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND registry.example', 'dns', 'does not resolve (DNS)'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN registry.example', 'dns', 'does not resolve (DNS)'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:5000', 'refused', 'Nothing accepts connections at registry.example:5000'],
    ['ETIMEDOUT', 'the connection timed out', 'timeout', 'did not answer in time'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate', 'certificate', 'NODE_EXTRA_CA_CERTS'],
    ['EPROTO', 'ssl3_get_record:wrong version number', 'tls', 'plain http on another host needs --tls-verify=false'],
  ] as const)('%s is told as %s, with its own hint', (code, message, reason, hint) => {
    expect(unreachableReason(failure(code, message))).toBe(reason);
    const error = new RegistryNetworkError('GET', url, failure(code, message));
    expect(error.message).toContain('Could not reach the registry registry.example:5000');
    expect(error.message).toContain(message);
    expect(error.message).toContain(hint);
  });

  it('gives the plain-http hint only where TLS is the problem', () => {
    for (const code of ['ENOTFOUND', 'ECONNREFUSED', 'ETIMEDOUT']) {
      expect(new RegistryNetworkError('GET', url, failure(code, 'x')).message).not.toContain('--tls-verify=false');
    }
  });
});
