/**
 * `ribo ps --filter`, `-n`, `-l` and `--no-trunc` as a docker user types
 * them, on real containers (running, exited 0 and 3, on the default network,
 * on none, with a published port and a named volume), as an unprivileged user.
 */
import { execa } from 'execa';
import { makeContext, makeStore, removeStore, ribo, riboOk } from './harness.js';

let root: string;
let context: string;
const opts = () => ({ root });

/** The names `ps ARGS` lists, in its order. */
async function names(...args: string[]): Promise<string[]> {
  const out = (await riboOk(['ps', ...args, '--format', '{{.Names}}'], opts())).stdout.trim();
  return out === '' ? [] : out.split('\n');
}

beforeAll(async () => {
  root = await makeStore();
  context = await makeContext({}, 'hello');
  await riboOk(['build', '-t', 'hello', context], opts());
  await riboOk(['build', '-t', 'child', '-f', '-', context], { ...opts(), input: 'FROM hello\nRUN touch /child\n' });
  // Created in this order, so newest first is up2, web, bad3, ok1.
  await riboOk(['run', '--name', 'ok1', 'hello', 'true'], opts());
  expect((await ribo(['run', '--name', 'bad3', 'hello', 'sh', '-c', 'exit 3'], opts())).exitCode).toBe(3);
  await riboOk(['run', '-d', '--name', 'web', '-p', '80', '-v', 'psdata:/data', 'hello', 'sleep', '300'], opts());
  await riboOk(['run', '-d', '--name', 'up2', '--network', 'none', 'child', 'sleep', '300'], opts());
}, 300_000);

afterAll(async () => {
  await ribo(['rm', '-f', 'web', 'up2', 'ok1', 'bad3'], opts());
  await removeStore(root);
  await execa('rm', ['-rf', context]);
});

describe('ribo ps --filter', () => {
  it('lists running containers by default, and exited ones with a status= filter without -a (as docker)', async () => {
    expect(await names()).toEqual(['up2', 'web']);
    expect(await names('--filter', 'status=exited')).toEqual(['bad3', 'ok1']);
    expect(await names('-f', 'status=running')).toEqual(['up2', 'web']);
    expect(await names('-f', 'status=paused')).toEqual([]);
  });

  it('exited=CODE, name= (a regular expression), id= (a prefix), before= and since=', async () => {
    expect(await names('-a', '-f', 'exited=3')).toEqual(['bad3']);
    expect(await names('-a', '-f', 'exited=0')).toEqual(['ok1']);
    expect(await names('-a', '-f', 'name=^(ok|up)')).toEqual(['up2', 'ok1']);
    const id = (await riboOk(['inspect', '--format', '{{.Id}}', 'web'], opts())).stdout.trim();
    expect(await names('-a', '-f', `id=${id.slice(0, 8)}`)).toEqual(['web']);
    expect(await names('-a', '-f', 'before=web')).toEqual(['bad3', 'ok1']);
    expect(await names('-a', '-f', 'since=bad3')).toEqual(['up2', 'web']);
  });

  it('ancestor= matches the image and images built on it', async () => {
    expect(await names('-a', '-f', 'ancestor=hello')).toEqual(['up2', 'web', 'bad3', 'ok1']);
    expect(await names('-a', '-f', 'ancestor=child')).toEqual(['up2']);
    const childId = (await riboOk(['images', '-q', 'child'], opts())).stdout.trim();
    expect(await names('-a', '-f', `ancestor=${childId}`)).toEqual(['up2']);
  });

  it('network=, publish= and volume=', async () => {
    expect(await names('-f', 'network=none')).toEqual(['up2']);
    expect(await names('-f', 'network=bridge')).toEqual(['web']);
    expect(await names('-f', 'publish=80')).toEqual(['web']);
    expect(await names('-f', 'publish=70-90/tcp')).toEqual(['web']);
    expect(await names('-f', 'publish=80/udp')).toEqual([]);
    expect(await names('-f', 'volume=psdata')).toEqual(['web']);
    expect(await names('-f', 'volume=/data')).toEqual(['web']);
  });

  it('different keys must all match, values of one key any', async () => {
    expect(await names('-a', '-f', 'name=web', '-f', 'name=ok1')).toEqual(['web', 'ok1']);
    expect(await names('-a', '-f', 'name=web', '-f', 'status=exited')).toEqual([]);
  });

  it('-n N and -l show the newest containers whatever their state; --no-trunc the whole id', async () => {
    expect(await names('-n', '3')).toEqual(['up2', 'web', 'bad3']);
    expect(await names('-l')).toEqual(['up2']);
    const id = (await riboOk(['inspect', '--format', '{{.Id}}', 'up2'], opts())).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect((await riboOk(['ps', '-l', '-q', '--no-trunc'], opts())).stdout.trim()).toBe(id);
    expect((await riboOk(['ps', '-l', '-q'], opts())).stdout.trim()).toBe(id.slice(0, 12));
  });

  it('an unknown key, a bad status or a missing image is an error naming the filter', async () => {
    const unknown = await ribo(['ps', '-f', 'colour=red'], opts());
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('--filter colour=red: ribo ps knows id=, name=, status=');
    const status = await ribo(['ps', '-f', 'status=sleeping'], opts());
    expect(status.exitCode).not.toBe(0);
    expect(status.stderr).toContain('status is one of created, restarting, running');
    const label = await ribo(['ps', '-a', '-q', '-f', 'label=a=b'], opts());
    expect({ code: label.exitCode, listed: label.stdout.trim() }).toEqual({ code: 0, listed: '' });
    const image = await ribo(['ps', '-f', 'ancestor=nosuch'], opts());
    expect(image.exitCode).not.toBe(0);
    expect(image.stderr).toContain('the store has no image nosuch');
  });
});
