/**
 * A real Debian image: mmdebstrap makes a minbase rootfs tarball, ribo imports
 * it and runs apt-get in it. The tarball is cached between runs.
 */
import { execa } from 'execa';
import { access, mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { makeStore, removeStore, riboOk } from './harness.js';

const CACHE_DIR = '/var/tmp/ribo-test-cache';
const TARBALL = path.join(CACHE_DIR, 'bookworm-minbase.tar');

async function debianTarball(): Promise<string> {
  if (await access(TARBALL).then(() => true, () => false)) return TARBALL;
  await mkdir(CACHE_DIR, { recursive: true, mode: 0o755 });
  const partial = `${TARBALL}.partial-${process.pid}`;
  const mode = process.getuid?.() === 0 ? 'root' : 'unshare';
  await execa('mmdebstrap', [`--mode=${mode}`, '--variant=minbase', '--format=tar', '--quiet', 'bookworm', partial]);
  await execa('chmod', ['a+r', partial]);
  await rename(partial, TARBALL);
  return TARBALL;
}

let root: string;

beforeAll(async () => {
  root = await makeStore();
}, 600_000);

afterAll(async () => {
  await removeStore(root);
});

it('imports an mmdebstrap rootfs and runs apt-get --version in it', async () => {
  const tarball = await debianTarball();
  await riboOk(['import', tarball, 'localhost/debian:bookworm'], { root });
  const images = await riboOk(['images'], { root });
  expect(images.stdout).toMatch(/localhost\/debian\s+bookworm/);
  const { stdout } = await riboOk(['run', '--rm', 'localhost/debian:bookworm', 'apt-get', '--version'], { root });
  expect(stdout).toMatch(/^apt \d+\.\d+/m);
  const { stdout: osRelease } = await riboOk(['run', '--rm', 'localhost/debian:bookworm', 'cat', '/etc/os-release'], { root });
  expect(osRelease).toContain('bookworm');
}, 600_000);
