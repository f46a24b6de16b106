import { imageHistory } from '../../image/inspect.js';
import type { CommandModule } from '../command.js';
import { formatListing, formatTable, humanSize } from '../format.js';
import { openStore, type GlobalOptions } from '../session.js';

const CREATED_BY_WIDTH = 60;

export const historyCommand: CommandModule = {
  name: 'history',
  usage: 'history <image>',
  describe: 'Show the steps an image was made of, newest first, with the size of each layer',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('image', { type: 'string', describe: 'NAME[:TAG], a manifest digest, or a unique prefix of one' })
      .option('trunc', { type: 'boolean', default: true, describe: 'Shorten CREATED BY and digests (--no-trunc shows them whole)' })
      .option('format', { type: 'string', default: 'table', describe: 'table, json (one array), or a Go template per step: {{.ID}} {{.CreatedBy}}, table {{.Size}}\\t{{.CreatedBy}}' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const name = String(argv.image);
    const rows = imageHistory(await store.resolveImage(name), name).reverse();
    if (argv.format === 'json') {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const full = argv.trunc === false;
    if (argv.format !== 'table') {
      // Docker's field names for templates.
      const templateRows = rows.map((row) => ({
        ID: row.layer ? (full ? row.layer.digest : row.layer.digest.slice(7, 19)) : '<missing>',
        CreatedAt: row.created ?? '',
        CreatedBy: row.createdBy,
        Size: row.layer ? humanSize(row.layer.size) : '0B',
        Comment: row.comment ?? '',
      }));
      const headers = { ID: 'LAYER', CreatedAt: 'CREATED', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
      process.stdout.write(formatListing(String(argv.format), templateRows, { defaultTable: 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', headers }));
      return 0;
    }
    const cells = rows.map((row) => {
      const createdBy = row.createdBy.replace(/\s+/g, ' ');
      return [
        row.layer ? (full ? row.layer.digest : row.layer.digest.slice(7, 19)) : '<empty layer>',
        row.created ?? '',
        full || createdBy.length <= CREATED_BY_WIDTH ? createdBy : `${createdBy.slice(0, CREATED_BY_WIDTH - 3)}...`,
        row.layer ? humanSize(row.layer.size) : '0B',
        row.comment ?? '',
      ];
    });
    process.stdout.write(formatTable(['LAYER', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], cells));
    return 0;
  },
};
