import { ContainerStore, shortId, type ContainerRecord } from '../../run/containers.js';
import { recoverContainers } from '../../run/lifecycle.js';
import { formatPsPort } from '../../run/publish.js';
import type { CommandModule } from '../command.js';
import { dockerTime, formatListing, humanDuration } from '../format.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export function statusText(record: ContainerRecord, now: number): string {
  if (record.status === 'running') return `Up ${humanDuration(now - Date.parse(record.startedAt ?? record.created))}`;
  if (record.status === 'exited') return `Exited (${record.exitCode ?? '?'}) ${humanDuration(now - Date.parse(record.finishedAt ?? record.created))} ago`;
  return 'Created';
}

function commandText(command: string[]): string {
  const text = command.join(' ');
  return JSON.stringify(text.length > 20 ? `${text.slice(0, 19)}…` : text);
}

/** The fields `ps --format` templates see, named as docker names them. */
function containerRow(r: ContainerRecord, now: number) {
  return {
    ID: shortId(r.id),
    Image: r.image,
    Command: commandText(r.command),
    CreatedAt: dockerTime(new Date(r.created)),
    RunningFor: `${humanDuration(now - Date.parse(r.created))} ago`,
    Ports: (r.plan.spec.ports ?? []).map(formatPsPort).join(', '),
    State: r.status,
    Status: statusText(r, now),
    Names: r.name,
  };
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
      .option('format', { type: 'string', describe: 'table, json, or a Go template: {{.Names}} {{.Status}}, table {{.ID}}\\t{{.Image}}' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    await recoverContainers(containers, root);
    const now = Date.now();
    const shown = (await containers.list()).filter((r) => argv.all || r.status === 'running').reverse();
    if (argv.quiet) {
      for (const record of shown) process.stdout.write(`${shortId(record.id)}\n`);
      return 0;
    }
    const rows = shown.map((r) => containerRow(r, now));
    process.stdout.write(formatListing(argv.format === undefined ? 'table' : String(argv.format), rows, { defaultTable: PS_TABLE, headers: PS_HEADERS }));
    return 0;
  },
};
