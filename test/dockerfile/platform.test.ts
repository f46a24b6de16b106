import { describe, it, expect } from '@jest/globals';
import { formatPlatform, hostPlatform, parsePlatform, samePlatform } from '../../src/dockerfile/index.js';

describe('platforms, normalised as BuildKit (containerd) does', () => {
  const amd64 = { os: 'linux', architecture: 'amd64' };
  const cases: Array<[string, string]> = [
    ['linux/amd64', 'linux/amd64'], ['linux/amd64/v1', 'linux/amd64'], ['linux/x86_64', 'linux/amd64'], ['LINUX/AMD64', 'linux/amd64'],
    ['amd64', 'linux/amd64'], ['linux/amd64/v3', 'linux/amd64/v3'], ['linux/aarch64', 'linux/arm64'], ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm64/8', 'linux/arm64'], ['linux/arm', 'linux/arm/v7'], ['linux/armhf', 'linux/arm/v7'], ['linux/armel', 'linux/arm/v6'],
    ['linux/arm/7', 'linux/arm/v7'], ['linux/i386', 'linux/386'], ['windows/amd64', 'windows/amd64'],
  ];
  it.each(cases)('%s is %s', (text, normalised) => {
    expect(formatPlatform(parsePlatform(text, amd64))).toBe(normalised);
  });

  it('a bare OS takes the host architecture', () => {
    expect(parsePlatform('linux', { os: 'linux', architecture: 'arm64' })).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(formatPlatform(parsePlatform('linux'))).toBe(formatPlatform(hostPlatform()));
  });

  it('samePlatform compares the normalised parts', () => {
    expect(samePlatform(parsePlatform('linux/amd64/v1'), parsePlatform('linux/amd64'))).toBe(true);
    expect(samePlatform(parsePlatform('linux/amd64/v2'), parsePlatform('linux/amd64'))).toBe(false);
    expect(samePlatform(parsePlatform('linux/arm64'), parsePlatform('linux/amd64'))).toBe(false);
    expect(samePlatform(parsePlatform('windows/amd64'), parsePlatform('linux/amd64'))).toBe(false);
  });

  it('the host is linux with the OCI name of Node\'s architecture', () => {
    expect(hostPlatform('x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(hostPlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
  });
});
