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
