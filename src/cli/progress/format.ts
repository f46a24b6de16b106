import type { StepInfo } from '../../build/progress/events.js';

/** `[build 2/5] RUN make`: where a step is, as BuildKit shows it. */
export function stepTitle(info: StepInfo): string {
  return `[${info.stage} ${info.index}/${info.total}] ${info.instruction}`;
}

/** 0.4s, 12.3s, 2m05s. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

/** Longer lines without a newline are cut into pieces of this size. */
const MAX_LINE = 64 * 1024;

/**
 * Splits a step's output into whole lines, keeping the unfinished last line
 * for the next chunk. A carriage return (progress bars) keeps only what a
 * terminal would show last on that line.
 */
export class LineSplitter {
  private partial = '';

  push(data: string): string[] {
    const parts = (this.partial + data).split('\n');
    this.partial = parts.pop()!;
    // A progress bar redrawn with carriage returns for minutes must not pile up:
    // only what follows the last one (a final one may start a CR LF) can still show.
    const cr = this.partial.lastIndexOf('\r', this.partial.length - 2);
    if (cr >= 0) this.partial = this.partial.slice(cr + 1);
    if (this.partial.length > MAX_LINE) {
      parts.push(this.partial);
      this.partial = '';
    }
    return parts.map(lastSegment);
  }

  /** The unfinished line, if any, as a last line. */
  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest ? [lastSegment(rest)] : [];
  }

  /** The unfinished line so far, without taking it. */
  peek(): string {
    return lastSegment(this.partial);
  }
}

function lastSegment(line: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cr = trimmed.lastIndexOf('\r');
  return cr < 0 ? trimmed : trimmed.slice(cr + 1);
}
