/**
 * `ribo volume create|ls|inspect|rm|prune`: the store's volumes, with
 * docker's output formats (ls: DRIVER and VOLUME NAME columns; inspect: a
 * JSON array of Name, Driver, Mountpoint, CreatedAt, Labels, Scope).
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../../errors.js';
import { ContainerStore } from '../../run/containers.js';
import { pruneVolumes, removeVolume, volumeUsers } from '../../run/volumes.js';
import { NoSuchVolumeError, VolumeStore } from '../../store/volumes.js';
import type { CommandModule } from '../command.js';
import { formatTable } from '../format.js';
import { compileTemplate } from '../template.js';
import { asList } from '../options.js';
import { storeRoot, type GlobalOptions } from '../session.js';

const SUBCOMMANDS = ['create', 'ls', 'inspect', 'rm', 'prune'];

/** --label KEY=VALUE (or KEY, an empty value), as docker takes them. */
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

/** `ls --filter dangling=true|false` (volumes no container uses, or used ones) and `name=TEXT`. */
function parseFilters(values: string[]): { dangling?: boolean; name?: string } {
  const filters: { dangling?: boolean; name?: string } = {};
  for (const value of values) {
    const [key, text] = value.split('=', 2) as [string, string | undefined];
    if (key === 'dangling' && ['true', '1', 'false', '0'].includes(text ?? '')) filters.dangling = text === 'true' || text === '1';
    else if (key === 'name' && text) filters.name = text;
    else throw new UsageError(`--filter ${value}: ribo's volume ls knows dangling=true|false and name=TEXT.`);
  }
  return filters;
}

export const volumeCommand: CommandModule = {
  name: 'volume',
  usage: 'volume [command]',
  describe: 'Manage volumes: create, ls, inspect, rm, prune',
  // Volumes whose files belong to container users are removed in a throwaway namespace when needed (removeOwnedTree).
  needsNamespace: false,
  builder: (y) =>
    y
      .command('create [name]', 'Create a volume (a random name when none is given) and print its name', (b) =>
        b.positional('name', { type: 'string' }).option('label', { array: true, type: 'string', describe: 'Set a label KEY=VALUE' }).option('driver', { alias: 'd', type: 'string', describe: 'Only "local"' }))
      .command('ls', 'List volumes', (b) =>
        b.option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print names only' }).option('filter', { array: true, alias: 'f', type: 'string', describe: 'dangling=true|false or name=TEXT' }))
      .command('inspect <names..>', 'Show volumes as JSON', (b) =>
        b.positional('names', { type: 'string', array: true }).option('format', { alias: 'f', type: 'string', describe: 'Print each through a template: {{.Mountpoint}}' }))
      .command('rm <names..>', 'Remove volumes no container uses', (b) =>
        b.positional('names', { type: 'string', array: true }).option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Do not fail on volumes that do not exist' }))
      .command('prune', 'Remove anonymous volumes no container uses (all unused ones with --all)', (b) =>
        b.option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Also named volumes' }).option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Accepted for docker\'s scripts; ribo never asks' })),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const volumes = VolumeStore.ofStore(root);
    const containers = ContainerStore.ofStore(root);
    const names = ((argv.names as unknown[] | undefined) ?? []).map(String);
    switch (String(argv._[1])) {
      case 'create': {
        if (argv.driver !== undefined && argv.driver !== 'local') throw new UsageError(`--driver ${String(argv.driver)}: ribo has only the "local" driver.`);
        const name = argv.name === undefined ? randomBytes(32).toString('hex') : String(argv.name);
        await volumes.ensure(name, parseLabels(asList(argv.label)));
        process.stdout.write(`${name}\n`);
        return 0;
      }
      case 'ls': {
        const filters = parseFilters(asList(argv.filter));
        const used = await volumeUsers(containers);
        const shown = (await volumes.list())
          .filter((v) => filters.dangling === undefined || filters.dangling !== used.has(v.Name))
          .filter((v) => filters.name === undefined || v.Name.includes(filters.name));
        if (argv.quiet) for (const v of shown) process.stdout.write(`${v.Name}\n`);
        else process.stdout.write(formatTable(['DRIVER', 'VOLUME NAME'], shown.map((v) => [v.Driver, v.Name])));
        return 0;
      }
      case 'inspect': {
        const template = argv.format === undefined ? undefined : String(argv.format);
        const compiled = template === undefined ? undefined : compileTemplate(template);
        const found = [];
        for (const name of names) found.push(volumes.info(await volumes.get(name)));
        if (compiled !== undefined) for (const item of found) process.stdout.write(`${compiled.render(item)}\n`);
        else {
          const shown = found.map(({ CreatedAt, Driver, Labels, Mountpoint, Name, Scope }) => ({ CreatedAt, Driver, Labels, Mountpoint, Name, Options: null, Scope }));
          process.stdout.write(`${JSON.stringify(shown, null, 4)}\n`);
        }
        return 0;
      }
      case 'rm': {
        let failed = 0;
        for (const name of names) {
          try {
            await removeVolume(root, containers, name);
            process.stdout.write(`${name}\n`);
          } catch (error) {
            if (argv.force && error instanceof NoSuchVolumeError) continue;
            // docker goes on with the other names and fails at the end
            process.stderr.write(`ribo: error: ${(error as Error).message}\n`);
            failed = 1;
          }
        }
        return failed;
      }
      case 'prune': {
        const removed = await pruneVolumes(root, containers, Boolean(argv.all));
        if (removed.length) process.stdout.write(`Deleted Volumes:\n${removed.map((n) => `${n}\n`).join('')}\n`);
        process.stdout.write(`Removed ${removed.length} volume${removed.length === 1 ? '' : 's'}\n`);
        return 0;
      }
      default:
        if (argv._[1] === undefined) throw new UsageError(`ribo volume: name a volume command: ${SUBCOMMANDS.join(', ')}.`);
        throw new UsageError(`ribo volume ${String(argv._[1])}: unknown command; use ${SUBCOMMANDS.join(', ')}.`);
    }
  },
};
