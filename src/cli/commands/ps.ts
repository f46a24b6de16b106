import { ContainerStore, shortId, type ContainerRecord } from '../../run/containers.js';
import { recoverContainers } from '../../run/lifecycle.js';
import { isRestarting } from '../../run/restart-policy.js';
import { formatPsPort } from '../../run/publish.js';
import type { CommandModule } from '../command.js';
import { formatTable } from '../format.js';
import { storeRoot, type GlobalOptions } from '../session.js';

/** "5 seconds", "3 minutes", "2 hours", … as docker prints durations. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 1) return 'Less than a second';
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'About a minute' : `${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return hours === 1 ? 'About an hour' : `${hours} hours`;
  return `${Math.round(hours / 24)} days`;
}

export function statusText(record: ContainerRecord, now: number): string {
  if (isRestarting(record)) return `Restarting (${record.exitCode ?? '?'}) ${humanDuration(now - Date.parse(record.finishedAt ?? record.created))} ago`;
  if (record.status === 'running') return `Up ${humanDuration(now - Date.parse(record.startedAt ?? record.created))}`;
  if (record.status === 'exited') return `Exited (${record.exitCode ?? '?'}) ${humanDuration(now - Date.parse(record.finishedAt ?? record.created))} ago`;
  return 'Created';
}

function commandText(command: string[]): string {
  const text = command.join(' ');
  return JSON.stringify(text.length > 20 ? `${text.slice(0, 19)}…` : text);
}

export const psCommand: CommandModule = {
  name: 'ps',
  usage: 'ps',
  describe: 'List running containers (all with -a)',
  needsNamespace: false,
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Show every container, also exited ones' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print container ids only' }),
  handler: async (argv, env) => {
    const root = storeRoot(argv as GlobalOptions, env);
    const containers = ContainerStore.ofStore(root);
    await recoverContainers(containers, root);
    const now = Date.now();
    const shown = (await containers.list()).filter((r) => argv.all || r.status === 'running' || isRestarting(r)).reverse();
    if (argv.quiet) {
      for (const record of shown) process.stdout.write(`${shortId(record.id)}\n`);
      return 0;
    }
    const rows = shown.map((r) => [shortId(r.id), r.image, commandText(r.command), `${humanDuration(now - Date.parse(r.created))} ago`, statusText(r, now), (r.plan.spec.ports ?? []).map(formatPsPort).join(', '), r.name]);
    process.stdout.write(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows));
    return 0;
  },
};
