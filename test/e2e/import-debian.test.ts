/**
 * A real Debian image: mmdebstrap makes a minbase rootfs tarball, ribo imports
 * it and runs apt-get in it. The tarball is cached between runs.
 */
import { debianTarball, makeStore, removeStore, riboOk } from './harness.js';

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
