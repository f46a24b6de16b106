import { imageHistory, type HistoryRow } from '../../image/inspect.js';
import type { CommandModule } from '../command.js';
import { formatListing, formatTable, humanDuration, humanSize } from '../format.js';
import { openStore, type GlobalOptions } from '../session.js';

const CREATED_BY_WIDTH = 60;

/** One step as docker's `history --format` templates see it. */
interface StepFields {
  ID: string;
  CreatedSince: string;
  CreatedAt: string;
  CreatedBy: string;
  Size: string;
  Comment: string;
}

const HEADERS: Record<keyof StepFields, string> = { ID: 'LAYER', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

/** As docker: CREATED in words ("5 minutes ago"), or with --human=false the RFC 3339 time and sizes in bytes. */
function stepFields(row: HistoryRow, opts: { full: boolean; human: boolean; now: number }): StepFields {
  const created = row.created === undefined ? undefined : new Date(row.created);
  const known = created !== undefined && !Number.isNaN(created.getTime());
  const createdAt = known ? created.toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
  const createdBy = row.createdBy.replace(/\s+/g, ' ');
  return {
    ID: row.layer ? (opts.full ? row.layer.digest : row.layer.digest.slice(7, 19)) : '<missing>',
    CreatedSince: !known ? 'N/A' : opts.human ? `${humanDuration(opts.now - created.getTime())} ago` : createdAt,
    CreatedAt: createdAt,
    CreatedBy: opts.full || createdBy.length <= CREATED_BY_WIDTH ? createdBy : `${createdBy.slice(0, CREATED_BY_WIDTH - 3)}...`,
    Size: opts.human ? humanSize(row.layer?.size ?? 0) : String(row.layer?.size ?? 0),
    Comment: row.comment ?? '',
  };
}

export const historyCommand: CommandModule = {
  name: 'history',
  usage: 'history <image>',
  describe: 'Show the steps an image was made of, newest first, with the size of each layer',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('image', { type: 'string', describe: 'NAME[:TAG], an image id or manifest digest, or a unique prefix of one' })
      .option('trunc', { type: 'boolean', default: true, describe: 'Shorten CREATED BY and digests (--no-trunc shows them whole)' })
      .option('human', { alias: 'H', type: 'boolean', default: true, describe: 'CREATED in words and sizes in kB/MB (-H=false: RFC 3339 times and bytes)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the layer digests (<missing> for a step that made none)' })
      .option('format', { type: 'string', default: 'table', describe: 'table, json (one array), or a Go template per step: {{.ID}} {{.CreatedBy}}, table {{.Size}}\\t{{.CreatedBy}}' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const name = String(argv.image);
    const rows = imageHistory(await store.resolveImage(name), name).reverse();
    if (argv.format === 'json' && !argv.quiet) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const opts = { full: argv.trunc === false, human: argv.human !== false, now: Date.now() };
    const steps = rows.map((row) => stepFields(row, opts));
    if (argv.quiet) {
      process.stdout.write(steps.map((step) => `${step.ID}\n`).join(''));
      return 0;
    }
    if (argv.format !== 'table') {
      process.stdout.write(formatListing(String(argv.format), steps, { defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', headers: HEADERS }));
      return 0;
    }
    // The default table marks a step without a layer in words (templates see docker's <missing>).
    const cells = steps.map((step, i) => [rows[i]!.layer ? step.ID : '<empty layer>', step.CreatedSince, step.CreatedBy, step.Size, step.Comment]);
    process.stdout.write(formatTable(['LAYER', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], cells));
    return 0;
  },
};
