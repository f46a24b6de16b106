/**
 * `ribo network create|ls|inspect|rm|prune`: the store's networks between
 * containers (runtime/networks/), with docker's output formats (ls: NETWORK
 * ID, NAME, DRIVER columns; inspect: a JSON array with IPAM and Containers).
 */
import { UsageError } from '../../errors.js';
import { ContainerStore } from '../../run/containers.js';
import { networkInfo, pruneNetworks, removeNetwork } from '../../run/networks.js';
import { NetworkStore, NoSuchNetworkError, parseSubnet } from '../../runtime/networks/store.js';
import type { CommandModule } from '../command.js';
import { formatTable } from '../format.js';
import { compileTemplate } from '../template.js';
import { asList } from '../options.js';
import { storeRoot, type GlobalOptions } from '../session.js';

const SUBCOMMANDS = ['create', 'ls', 'inspect', 'rm', 'prune'];

function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq < 0 ? value : value.slice(0, eq);
    if (!key) throw new UsageError(`--label ${value}: the label has no name; write KEY=VALUE.`);
    labels[key] = eq < 0 ? '' : value.slice(eq + 1);
  }
  return labels;
}

export const networkCommand: CommandModule = {
  name: 'network',
  usage: 'network [command]',
  describe: 'Manage networks between containers: create, ls, inspect, rm, prune',
  // Works on the store's files and ends processes the user owns: no namespace needed.
  needsNamespace: false,
  builder: (y) =>
    y
      .command('create <name>', 'Create a network (a bridge with its own subnet and DNS) and print its name', (b) =>
        b.positional('name', { type: 'string' })
          .option('subnet', { type: 'string', describe: 'An IPv4 /24, A.B.C.0/24 (default: the first free 10.89.N.0/24)' })
          .option('label', { array: true, type: 'string', describe: 'Set a label KEY=VALUE' })
          .option('driver', { alias: 'd', type: 'string', describe: 'Only "bridge"' }))
      .command('ls', 'List networks', (b) => b.option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print names only' }))
      .command('inspect <names..>', 'Show networks as JSON', (b) =>
        b.positional('names', { type: 'string', array: true }).option('format', { alias: 'f', type: 'string', describe: 'Print each through a template: {{.IPAM.Config}}' }))
      .command('rm <names..>', 'Remove networks no container uses, ending their processes', (b) =>
        b.positional('names', { type: 'string', array: true }).option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not fail on networks that do not exist' }))
      .command('prune', 'Remove every network no container uses', (b) =>
        b.option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Accepted for docker\'s scripts; ribo never asks' })),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const networks = NetworkStore.ofStore(root);
    const containers = ContainerStore.ofStore(root);
    const names = ((argv.names as unknown[] | undefined) ?? []).map(String);
    switch (String(argv._[1])) {
      case 'create': {
        if (argv.driver !== undefined && argv.driver !== 'bridge') throw new UsageError(`--driver ${String(argv.driver)}: ribo's networks are bridges; leave out --driver or give bridge.`);
        const subnet = argv.subnet === undefined ? undefined : parseSubnet(String(argv.subnet));
        const record = await networks.create(String(argv.name), { ...(subnet ? { subnet } : {}), labels: parseLabels(asList(argv.label)) });
        process.stdout.write(`${record.Name}\n`);
        return 0;
      }
      case 'ls': {
        const all = await networks.list();
        if (argv.quiet) for (const n of all) process.stdout.write(`${n.Name}\n`);
        else process.stdout.write(formatTable(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET'], all.map((n) => [n.Id.slice(0, 12), n.Name, n.Driver, n.Subnet])));
        return 0;
      }
      case 'inspect': {
        const template = argv.format === undefined ? undefined : String(argv.format);
        const compiled = template === undefined ? undefined : compileTemplate(template);
        const found = [];
        for (const name of names) found.push(await networkInfo(networks, containers, await networks.read(name)));
        if (compiled !== undefined) for (const item of found) process.stdout.write(`${compiled.render(item)}\n`);
        else process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
        return 0;
      }
      case 'rm': {
        let failed = 0;
        for (const name of names) {
          try {
            await removeNetwork(networks, containers, name);
            process.stdout.write(`${name}\n`);
          } catch (error) {
            if (argv.force && error instanceof NoSuchNetworkError) continue;
            process.stderr.write(`ribo: error: ${(error as Error).message}\n`);
            failed = 1;
          }
        }
        return failed;
      }
      case 'prune': {
        const removed = await pruneNetworks(networks, containers);
        if (removed.length) process.stdout.write(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join('')}`);
        return 0;
      }
      default:
        if (argv._[1] === undefined) throw new UsageError(`ribo network: name a network command: ${SUBCOMMANDS.join(', ')}.`);
        throw new UsageError(`ribo network ${String(argv._[1])}: unknown command; use ${SUBCOMMANDS.join(', ')}.`);
    }
  },
};
