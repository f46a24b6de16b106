/** Where transfer progress goes: a terminal gets live bars, anything else plain lines. */
export type ProgressOut = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

interface Row {
  id: string;
  total: number;
  done: number;
  state: string;
}

const REDRAW_MS = 150;

export function humanBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)}${units[unit]}`;
}

/**
 * Progress of blob transfers. On a terminal, one bar per blob, redrawn in
 * place; otherwise (CI logs, Makefiles) one line when a blob starts and one
 * when it ends, never a carriage return.
 */
export class TransferProgress {
  private readonly rows: Row[] = [];
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  /** After close() the bars stay on screen as they are and later text goes below them. */
  private closed = false;

  constructor(private readonly out: ProgressOut, private readonly quiet = false) {}

  private get live(): boolean {
    return Boolean(this.out.isTTY) && !this.quiet && !this.closed;
  }

  line(text: string): void {
    if (this.quiet) return;
    this.redraw(true);
    this.out.write(`${text}\n`);
    this.drawn = 0;
    this.redraw();
  }

  start(id: string, total: number, verb: string): void {
    const row = { id, total, done: 0, state: verb };
    this.rows.push(row);
    if (this.live) this.schedule();
    else if (!this.quiet) this.out.write(`${verb} ${short(id)} (${humanBytes(total)})\n`);
  }

  advance(id: string, bytes: number): void {
    const row = this.rows.find((r) => r.id === id);
    if (row) row.done += bytes;
  }

  /** Restart a row after a retry. */
  reset(id: string, note: string): void {
    const row = this.rows.find((r) => r.id === id);
    if (row) row.done = 0;
    if (!this.live && !this.quiet) this.out.write(`${short(id)}: ${note}, retrying\n`);
  }

  finish(id: string, state: string): void {
    let row = this.rows.find((r) => r.id === id);
    if (!row) {
      row = { id, total: 0, done: 0, state };
      this.rows.push(row);
    }
    row.state = state;
    row.done = row.total;
    if (!this.live && !this.quiet) this.out.write(`${short(id)}: ${state}\n`);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.live) this.redraw();
    this.closed = true;
    this.drawn = 0;
  }

  private schedule(): void {
    this.timer ??= setInterval(() => this.redraw(), REDRAW_MS);
    this.timer.unref();
  }

  private redraw(clearOnly = false): void {
    if (!this.live) return;
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A`);
    if (clearOnly) {
      this.out.write('\x1b[J');
      return;
    }
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 50));
    for (const row of this.rows) {
      const fraction = row.total > 0 ? Math.min(1, row.done / row.total) : 1;
      const filled = Math.round(fraction * width);
      const bar = `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]`;
      const finished = row.done >= row.total && row.state !== 'Fetching' && row.state !== 'Uploading';
      this.out.write(`\x1b[2K${short(row.id)}  ${finished ? row.state : `${bar} ${humanBytes(row.done)}/${humanBytes(row.total)}`}\n`);
    }
    this.drawn = this.rows.length;
  }
}

function short(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(7, 19) : digest;
}
