/**
 * What a container's process starts with, as docker gives it: HOSTNAME and
 * HOME in its environment, its primary group among its groups, terminals of
 * group tty. The e2e side (test/e2e/run-environment-differential.test.ts)
 * checks the same against podman run.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_TEMPLATE, specFromTemplate, type ContainerSpec } from '../../src/runtime/bundle.js';
import { processGroups } from '../../src/runtime/users.js';
import { startEnv } from '../../src/run/start-spec.js';
import type { RuntimeSpec } from '../../src/oci/runtime-spec.js';

describe('the environment at start', () => {
  it('puts HOSTNAME first and HOME last, unless the image or -e set them', () => {
    expect(startEnv(['PATH=/bin', 'A=1'], 'abc123', '/root')).toEqual(['HOSTNAME=abc123', 'PATH=/bin', 'A=1', 'HOME=/root']);
    expect(startEnv(['HOSTNAME=given', 'HOME=/mine'], 'abc123', '/root')).toEqual(['HOSTNAME=given', 'HOME=/mine']);
  });

  it('gives HOME=/ to a user the image\'s passwd does not list (or lists without a home)', () => {
    expect(startEnv([], 'h', undefined)).toEqual(['HOSTNAME=h', 'HOME=/']);
    expect(startEnv([], 'h', '')).toEqual(['HOSTNAME=h', 'HOME=/']);
  });
});

describe('the process\'s groups', () => {
  it('start with the primary group, once', () => {
    expect(processGroups({ gid: 0, additionalGids: [] })).toEqual([0]);
    expect(processGroups({ gid: 1000, additionalGids: [10, 1000, 50] })).toEqual([1000, 10, 50]);
  });
});

describe('/dev/pts', () => {
  const template = JSON.parse(readFileSync(DEFAULT_TEMPLATE, 'utf8')) as RuntimeSpec;
  const spec = (idCount: number): ContainerSpec => ({ args: ['sh'], env: [], cwd: '/', uid: 0, gid: 0, rootfs: '/r', network: 'none', idCount });
  const devpts = (config: RuntimeSpec) => config.mounts!.find((m) => m.destination === '/dev/pts')!.options;

  it('gives terminals the group tty where the container has that group, and leaves it out where it does not', () => {
    expect(devpts(specFromTemplate(template, spec(65536)))).toContain('gid=5');
    // Without subordinate ids the container has only id 0: a gid=5 option would make the mount fail.
    expect(devpts(specFromTemplate(template, spec(1)))).not.toContain('gid=5');
  });
});
