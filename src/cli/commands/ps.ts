import { ContainerStore, shortId, type ContainerRecord } from '../../run/containers.js';
import { recoverContainers } from '../../run/lifecycle.js';
import { isRestarting } from '../../run/restart-policy.js';
import { formatPsPort } from '../../run/publish.js';
import type { CommandModule } from '../command.js';
import { dockerTime, formatListing, humanDuration } from '../format.js';
import { openStore, storeRoot, type GlobalOptions } from '../session.js';
import { asList } from '../options.js';
import { containerFilters } from '../container-filters.js';
import { UsageError } from '../../errors.js';
import type { Store } from '../../store/index.js';

export function statusText(record: ContainerRecord, now: number): string {
  if (isRestarting(record)) return `Restarting (${record.exitCode ?? '?'}) ${humanDuration(now - Date.parse(record.finishedAt ?? record.created))} ago`;
  if (record.status === 'running') return `Up ${humanDuration(now - Date.parse(record.startedAt ?? record.created))}`;
  if (record.status === 'exited') return `Exited (${record.exitCode ?? '?'}) ${humanDuration(now - Date.parse(record.finishedAt ?? record.created))} ago`;
  return 'Created';
}

function commandText(command: string[], full: boolean): string {
  const text = command.join(' ');
  return JSON.stringify(!full && text.length > 20 ? `${text.slice(0, 19)}…` : text);
}

/** The fields `ps --format` templates see, named as docker names them. */
function containerRow(r: ContainerRecord, now: number, full: boolean) {
  return {
    ID: full ? r.id : shortId(r.id),
    Image: r.image,
    Command: commandText(r.command, full),
    CreatedAt: dockerTime(new Date(r.created)),
    RunningFor: `${humanDuration(now - Date.parse(r.created))} ago`,
    Ports: (r.plan.spec.ports ?? []).map(formatPsPort).join(', '),
    State: r.status,
    Status: statusText(r, now),
    Names: r.name,
    // docker's: KEY=VALUE pairs joined by commas.
    Labels: Object.entries(r.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
  };
}

/** The containers to list, newest first: running ones (all with -a, a status= filter, -n or -l), through --filter, then -n/-l. */
async function selectContainers(argv: Record<string, unknown>, env: NodeJS.ProcessEnv, records: ContainerRecord[]): Promise<ContainerRecord[]> {
  const last = argv.latest ? 1 : argv.last === undefined ? undefined : Number(argv.last);
  if (last !== undefined && (!Number.isInteger(last) || last < -1)) throw new UsageError(`--last ${String(argv.last)}: give a whole number of containers, e.g. -n 3.`);
  const values = asList(argv.filter);
  // Only ancestor= reads images: the store is opened for it alone, so a plain `ps` stays light.
  let store: Store | undefined;
  const imageLayers = async (ref: string) => {
    store ??= await openStore(argv as GlobalOptions, env);
    const image = await store.resolveImage(ref).catch(() => undefined);
    return image && { digest: image.manifestDescriptor.digest, diffIDs: image.config.rootfs?.diff_ids ?? [] };
  };
  const filters = await containerFilters(values, { records, imageLayers });
  const everyState = Boolean(argv.all) || filters.listsAll || (last !== undefined && last !== -1);
  const shown = records.filter((r) => (everyState || r.status === 'running' || isRestarting(r)) && filters.matches(r)).reverse();
  return last === undefined || last === -1 ? shown : shown.slice(0, last);
}

const PS_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
const PS_HEADERS = { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS', Names: 'NAMES' };

export const psCommand: CommandModule = {
  name: 'ps',
  usage: 'ps',
  describe: 'List running containers (all with -a)',
  needsNamespace: false,
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show every container, also exited ones' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print container ids only' })
      .option('format', { type: 'string', describe: 'table, json, or a Go template: {{.Names}} {{.Status}}, table {{.ID}}\\t{{.Image}}' })
      .option('filter', { array: true, alias: 'f', type: 'string', describe: 'id=, name=, status=, exited=, ancestor=, before=, since=, volume=, network=, publish=, label=; may be repeated' })
      .option('last', { alias: 'n', type: 'number', describe: 'Show the N most recently created containers, whatever their state' })
      .option('latest', { alias: 'l', type: 'boolean', default: false, describe: 'Show the most recently created container, whatever its state' })
      .option('trunc', { type: 'boolean', default: true, describe: 'Shorten ids and commands (--no-trunc shows them whole)' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    await recoverContainers(containers, root);
    const now = Date.now();
    const shown = await selectContainers(argv, env, await containers.list());
    const full = argv.trunc === false;
    if (argv.quiet) {
      for (const record of shown) process.stdout.write(`${full ? record.id : shortId(record.id)}\n`);
      return 0;
    }
    const rows = shown.map((r) => containerRow(r, now, full));
    process.stdout.write(formatListing(argv.format === undefined ? 'table' : String(argv.format), rows, { defaultTable: PS_TABLE, headers: PS_HEADERS }));
    return 0;
  },
};
