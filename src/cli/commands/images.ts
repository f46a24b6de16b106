import type { CommandModule } from '../command.js';
import { openStore, type GlobalOptions } from '../session.js';

function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)}${units[unit]}`;
}

export const imagesCommand: CommandModule = {
  name: 'images',
  usage: 'images',
  describe: 'List the images in the store',
  needsNamespace: false,
  builder: (y) => y.option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print manifest digests only' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const images = await store.listImages();
    if (argv.quiet) {
      for (const image of images) process.stdout.write(`${image.digest}\n`);
      return 0;
    }
    const rows = images.map((i) => {
      const ref = i.ref ?? '<none>';
      const colon = ref.lastIndexOf(':');
      const hasTag = colon > ref.lastIndexOf('/');
      return [hasTag ? ref.slice(0, colon) : ref, hasTag ? ref.slice(colon + 1) : '<none>', i.digest.slice(7, 19), i.created ?? '', humanSize(i.size)];
    });
    const header = ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'];
    const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]!.length)));
    for (const row of [header, ...rows]) process.stdout.write(`${row.map((c, col) => c.padEnd(widths[col]!)).join('  ').trimEnd()}\n`);
    return 0;
  },
};
