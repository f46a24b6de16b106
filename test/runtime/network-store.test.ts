/** The store's networks between containers: names, subnets, records and their permissions. */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../src/errors.js';
import { NetworkStore, NoSuchNetworkError, parseSubnet, validateNetworkName } from '../../src/runtime/networks/store.js';
import { listEndpoints, releaseAddress, reserveAddress, type NetworkAttachment } from '../../src/runtime/networks/endpoints.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-netstore-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('NetworkStore', () => {
  it('gives each network the first free 10.89.N.0/24, its gateway .1, and keeps the record 0600 in a 0700 dir', async () => {
    const networks = NetworkStore.ofStore(dir);
    const a = await networks.create('net-a');
    await networks.create('net-b', { subnet: '10.89.2.0/24' });
    const c = await networks.create('net-c');
    expect([a.Subnet, a.Gateway]).toEqual(['10.89.1.0/24', '10.89.1.1']);
    expect(c.Subnet).toBe('10.89.3.0/24');
    expect((await networks.list()).map((n) => n.Name)).toEqual(['net-a', 'net-b', 'net-c']);
    expect((await stat(networks.dirOf('net-a'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(networks.dirOf('net-a'), 'network.json'))).mode & 0o777).toBe(0o600);
    await networks.remove('net-a');
    expect((await networks.create('net-d')).Subnet).toBe('10.89.1.0/24');
  });

  it('refuses a taken name or subnet, and names what to do about a missing network', async () => {
    const networks = NetworkStore.ofStore(dir);
    await networks.create('net-a');
    await expect(networks.create('net-a')).rejects.toThrow('exists already');
    await expect(networks.create('net-b', { subnet: '10.89.1.0/24' })).rejects.toThrow('network net-a uses it already');
    await expect(networks.read('net-x')).rejects.toBeInstanceOf(NoSuchNetworkError);
    await expect(networks.read('net-x')).rejects.toThrow('ribo network create net-x');
  });

  it('accepts docker-like names but not the modes of --network, and only /24 subnets', () => {
    expect(() => validateNetworkName('back_end.1', 'x')).not.toThrow();
    for (const name of ['host', 'bridge', 'none', 'container']) expect(() => validateNetworkName(name, 'x')).toThrow(UsageError);
    expect(() => validateNetworkName('-bad', 'x')).toThrow('not a valid network name');
    expect(parseSubnet('192.168.7.0/24')).toBe('192.168.7.0/24');
    expect(() => parseSubnet('10.0.0.0/16')).toThrow('/24');
    expect(() => parseSubnet('10.0.300.0/24')).toThrow('/24');
  });
});

describe('addresses on a network (the DNS answerer\'s config)', () => {
  it('gives the lowest free address from .2, publishes the names, and frees them again', async () => {
    const networks = NetworkStore.ofStore(dir);
    const record = await networks.create('net-a', { subnet: '10.89.9.0/24' });
    const attachment: NetworkAttachment = { network: 'net-a', dir: networks.dirOf('net-a'), subnet: record.Subnet, gateway: record.Gateway, aliases: [] };
    // What holder.ts writes when the network starts: the gateway line.
    await mkdir(path.join(attachment.dir, 'dns'), { recursive: true });
    const config = path.join(attachment.dir, 'dns', 'net-a');
    await writeFile(config, '10.89.9.1\n');
    expect(await reserveAddress(attachment, 'id-one', ['web', 'abc123'])).toBe('10.89.9.2');
    expect(await reserveAddress(attachment, 'id-two', ['db', 'pg'])).toBe('10.89.9.3');
    expect(await reserveAddress(attachment, 'id-three', ['cache'])).toBe('10.89.9.4');
    await releaseAddress(attachment, 'id-two');
    expect(await reserveAddress(attachment, 'id-four', ['queue'])).toBe('10.89.9.3');
    expect(await readFile(config, 'utf8')).toBe('10.89.9.1\nid-one 10.89.9.2  web,abc123\nid-three 10.89.9.4  cache\nid-four 10.89.9.3  queue\n');
    expect((await listEndpoints(attachment.dir, 'net-a')).map((e) => [e.id, e.ip, e.names])).toEqual([
      ['id-one', '10.89.9.2', ['web', 'abc123']],
      ['id-three', '10.89.9.4', ['cache']],
      ['id-four', '10.89.9.3', ['queue']],
    ]);
  });

  it('refuses to reserve on a network that is not running', async () => {
    const networks = NetworkStore.ofStore(dir);
    const record = await networks.create('net-b');
    const attachment: NetworkAttachment = { network: 'net-b', dir: networks.dirOf('net-b'), subnet: record.Subnet, gateway: record.Gateway, aliases: [] };
    await expect(reserveAddress(attachment, 'id-one', ['web'])).rejects.toThrow('is not running');
  });
});
