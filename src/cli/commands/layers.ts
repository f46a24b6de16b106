import { imageLayerChanges, type PathChange } from '../../image/layer-changes.js';
import type { CommandModule } from '../command.js';
import { formatTable, humanSize } from '../format.js';
import { openStore, type GlobalOptions } from '../session.js';

const MARK: Record<PathChange['kind'], string> = { added: 'A', changed: 'C', deleted: 'D' };

function describeChange(change: PathChange): string {
  const suffix = change.type === 'directory' ? '/' : change.type === 'symlink' && change.linkTarget ? ` -> ${change.linkTarget}` : change.type === 'hardlink' && change.linkTarget ? ` link to /${change.linkTarget.replace(/^(\.\/)+|^\/+/, '')}` : '';
  return `${change.path}${suffix}`;
}

export const layersCommand: CommandModule = {
  name: 'layers',
  usage: 'layers <image>',
  describe: 'Show what each layer of an image adds, changes and deletes, with sizes',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('image', { type: 'string', describe: 'NAME[:TAG], a manifest digest, or a unique prefix of one' })
      .option('summary', { type: 'boolean', default: false, describe: 'One line per layer: counts and sizes only' })
      .option('json', { type: 'boolean', default: false, describe: 'Everything as JSON' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const name = String(argv.image);
    const result = await imageLayerChanges(store, await store.resolveImage(name), name);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    const count = (t: { count: number; bytes: number }) => `${t.count} (${humanSize(t.bytes)})`;
    if (argv.summary) {
      const rows = result.layers.map((layer) => [
        String(layer.index),
        layer.digest.slice(7, 19),
        humanSize(layer.size),
        count(layer.added),
        count(layer.changed),
        count(layer.deleted),
        layer.createdBy.replace(/\s+/g, ' ').slice(0, 60),
      ]);
      process.stdout.write(formatTable(['LAYER', 'DIGEST', 'SIZE', 'ADDED', 'CHANGED', 'DELETED', 'CREATED BY'], rows));
    } else {
      for (const layer of result.layers) {
        process.stdout.write(`Layer ${layer.index}/${result.layers.length}  ${layer.digest}  ${humanSize(layer.size)} compressed\n  ${layer.createdBy.replace(/\s+/g, ' ') || '(no history)'}\n`);
        for (const change of layer.changes) process.stdout.write(`  ${MARK[change.kind]} ${humanSize(change.size).padStart(7)}  ${describeChange(change)}\n`);
        process.stdout.write(`  added ${count(layer.added)}, changed ${count(layer.changed)}, deleted ${count(layer.deleted)}\n\n`);
      }
    }
    process.stdout.write(`Image content ${humanSize(result.totalBytes)}; ${humanSize(result.wastedBytes)} in lower layers is replaced or deleted by later ones\n`);
    return 0;
  },
};
