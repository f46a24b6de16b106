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

const TEMPLATE_ACTION = /\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g;

/**
 * The part of Go's text/template that scripts use with `inspect --format`:
 * `{{.Field.Sub}}` (a value as Go prints it: strings bare, other values as
 * JSON) and `{{json .Field}}`; `{{.}}` is the whole object. Anything else
 * is refused by `checkTemplate`.
 */
export function renderTemplate(template: string, value: unknown): string {
  return template.replace(TEMPLATE_ACTION, (_match, json: string | undefined, fieldPath: string) => {
    let current: unknown = value;
    for (const key of fieldPath.split('.').filter(Boolean)) {
      current = current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
    }
    if (json) return JSON.stringify(current ?? null);
    if (current === undefined || current === null) return '<no value>';
    return typeof current === 'string' ? current : typeof current === 'object' ? JSON.stringify(current) : String(current);
  });
}

/** The template with its supported actions taken out must have no `{{` left. */
export function checkTemplate(template: string): string | undefined {
  const rest = template.replace(TEMPLATE_ACTION, '');
  const start = rest.indexOf('{{');
  if (start < 0) return undefined;
  const end = rest.indexOf('}}', start);
  return end < 0 ? rest.slice(start) : rest.slice(start, end + 2);
}
