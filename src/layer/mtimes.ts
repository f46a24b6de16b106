/**
 * Gives a tree the mtimes its layer tar records: whole seconds, clamped to the
 * source date epoch. The build reuses a kernel overlay upper dir as the unpacked
 * layer, and without this, containers on the building machine would see other
 * times than the same image loaded or pulled anywhere else.
 */
import { lstatSync, lutimesSync, readdirSync } from 'node:fs';
import path from 'node:path';

export function clampTreeMtimes(root: string, sourceDateEpoch?: number): void {
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const stats = lstatSync(full);
      const seconds = Math.floor(stats.mtimeMs / 1000);
      const wanted = sourceDateEpoch === undefined ? seconds : Math.min(seconds, sourceDateEpoch);
      if (wanted * 1000 !== stats.mtimeMs) lutimesSync(full, wanted, wanted);
      if (entry.isDirectory()) visit(full);
    }
  };
  visit(root);
}
