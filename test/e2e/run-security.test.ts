/**
 * The default security (capabilities, seccomp profile) must not get in the way
 * of ordinary programs: apt-get in a real Debian image installs a package,
 * which needs its _apt sandbox (setresuid, setgroups), dpkg and the network.
 */
import { debianTarball, makeStore, removeStore, riboOk } from './harness.js';

let root: string;

beforeAll(async () => {
  root = await makeStore();
}, 600_000);

afterAll(async () => {
  await removeStore(root);
});

it('apt-get update and install work under the default seccomp profile and capabilities', async () => {
  await riboOk(['import', await debianTarball(), 'localhost/debian:bookworm'], { root });
  const script = 'grep "^Seccomp:" /proc/self/status && apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null 2>&1 && hello';
  const { stdout } = await riboOk(['run', '--rm', 'localhost/debian:bookworm', 'sh', '-c', script], { root });
  expect(stdout).toMatch(/^Seccomp:\s+2$/m);
  expect(stdout).toContain('Hello, world!');
}, 600_000);
