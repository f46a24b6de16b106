import { compileTemplate } from './template.js';

/** Output helpers shared by the listing commands. */

/** Decimal units, as docker and podman print sizes: 999B, 1.2kB, 35MB. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)}${units[unit]}`;
}

/** Three significant digits, as `docker images` prints SIZE: 5.58MB, 72.8MB, 123MB. */
export function preciseSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${Number(value.toPrecision(3))}${units[unit]}`;
}

/**
 * How long ago, in docker's words (its go-units HumanDuration): "Less than a
 * second", "5 seconds", "About a minute", "3 minutes", "About an hour",
 * "5 hours", "3 days", "2 weeks", "4 months", "56 years". Each step is
 * counted down to whole units; hours are rounded.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes === 1 ? 'About a minute' : `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

/** A time as docker's templates print CreatedAt: "2024-05-06 07:08:09 +0000 UTC". */
export function dockerTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** Left-aligned columns separated by two spaces, header first. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => (r[col] ?? '').length)));
  return [header, ...rows].map((row) => `${row.map((cell, col) => (cell ?? '').padEnd(widths[col]!)).join('  ').trimEnd()}\n`).join('');
}

/**
 * A listing (`images`, `ps`) through `--format` as docker's CLI does it:
 * `table` alone is the default table, `table TEMPLATE` a table of those
 * columns under a header (each `{{.Field}}` is titled by `headers`), `json`
 * one JSON object per line, anything else a template rendered per row.
 */
export function formatListing(format: string, rows: object[], options: { defaultTable: string; headers: Record<string, string> }): string {
  const spec = format === 'table' ? options.defaultTable : format;
  if (spec === 'json') return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
  const table = /^table\s/.exec(spec);
  const template = compileTemplate(expandEscapes(table ? spec.slice(table[0].length) : spec));
  const lines = rows.map((row) => template.render(row));
  if (!table) return lines.map((line) => `${line}\n`).join('');
  const header = template.render(options.headers).split('\t');
  return formatTable(header, lines.map((line) => line.split('\t')));
}

/** docker's CLI turns a typed `\t` or `\n` in --format into the character. */
function expandEscapes(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}
