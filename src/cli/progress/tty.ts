import type { BuildEvent, BuildReporter, StepInfo } from '../../build/progress/events.js';
import { humanSize } from '../format.js';
import { formatDuration, LineSplitter, stepTitle } from './format.js';

/** The part of a terminal stream the view needs (process.stderr on a TTY). */
export interface TerminalStream {
  write(text: string): unknown;
  columns?: number;
  rows?: number;
}

export interface TtyRendererOptions {
  /** Milliseconds between redraws of the running steps' elapsed times; 0: only on events (tests). */
  refreshMs?: number;
  /** Output lines shown under each running step. */
  tailLines?: number;
  /** Lines of a failed step's output kept on screen. */
  failedTailLines?: number;
  now?: () => number;
}

interface RunningStep {
  info: StepInfo;
  started: number;
  rebuildReason?: string;
  lines: LineSplitter;
  tail: string[];
  progress?: { phase: string; bytes: number };
}

// Escape sequences understood by every terminal ribo cares about (VT100).
const UP = (n: number) => `\x1b[${n}A`;
const CLEAR_TO_END = '\x1b[J';
const DIM = '\x1b[2m';
const RED = '\x1b[31m';
const BLUE = '\x1b[34m';
const RESET = '\x1b[0m';

/**
 * A live view for a terminal: finished steps scroll up as one line each with
 * their time; below them the running steps are redrawn in place with their
 * elapsed time and the last lines of their output. A failed step leaves the
 * end of its output on screen.
 */
export class TtyRenderer implements BuildReporter {
  private readonly running = new Map<number, RunningStep>();
  /** Lines to print above the live region at the next redraw; they are never redrawn. */
  private pending: string[] = [];
  /** Height of the live region last drawn, so the next redraw can go back over it. */
  private liveHeight = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly refreshMs: number;
  private readonly tailLines: number;
  private readonly failedTailLines: number;
  private readonly now: () => number;

  constructor(private readonly out: TerminalStream, options: TtyRendererOptions = {}) {
    this.refreshMs = options.refreshMs ?? 100;
    this.tailLines = options.tailLines ?? 5;
    this.failedTailLines = options.failedTailLines ?? 12;
    this.now = options.now ?? Date.now;
  }

  report(event: BuildEvent): void {
    switch (event.type) {
      case 'build-start':
        this.startTimer();
        return;
      case 'warning':
        this.pending.push(`${BLUE}WARNING: ${event.message}${event.file ? ` (${event.file}:${event.line})` : ''}${RESET}`);
        break;
      case 'info':
        this.pending.push(event.message);
        break;
      case 'step-cached':
        this.pending.push(this.finishedLine(event, `CACHED ${event.instruction}`, formatDuration(0)));
        break;
      case 'step-start':
        this.running.set(event.step, { info: event, started: event.time, rebuildReason: event.rebuildReason, lines: new LineSplitter(), tail: [] });
        this.changed();
        return;
      case 'step-log': {
        const step = this.running.get(event.step);
        if (!step) return;
        step.tail.push(...step.lines.push(event.data));
        step.tail.splice(0, Math.max(0, step.tail.length - this.failedTailLines));
        this.changed();
        return;
      }
      case 'step-progress': {
        const step = this.running.get(event.step);
        if (step) step.progress = { phase: event.phase, bytes: event.bytes };
        this.changed();
        return;
      }
      case 'step-done': {
        const step = this.running.get(event.step);
        if (!step) return;
        this.running.delete(event.step);
        this.pending.push(this.finishedLine(step.info, this.titleOf(step), formatDuration(event.durationMs)));
        break;
      }
      case 'step-failed': {
        const step = this.running.get(event.step);
        if (!step) return;
        this.running.delete(event.step);
        const code = event.exitCode === undefined ? '' : ` (exit code ${event.exitCode})`;
        this.pending.push(`${RED}${this.finishedLine(step.info, this.titleOf(step), `ERROR ${formatDuration(event.durationMs)}${code}`)}${RESET}`);
        const tail = [...step.tail, ...step.lines.flush()].slice(-this.failedTailLines);
        for (const line of tail) this.pending.push(`${DIM}  > ${printable(line)}${RESET}`);
        break;
      }
      case 'build-done':
        this.pending.push(`Built ${event.image} in ${formatDuration(event.durationMs)}${event.tags.length ? `, tagged ${event.tags.join(', ')}` : ''}`);
        this.close();
        return;
      case 'build-failed':
        this.close();
        return;
      default:
        return;
    }
    this.redraw();
  }

  /** Draws the last state and stops the clock; the view stays as it is on screen. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.running.clear();
    this.redraw();
  }

  /**
   * Running steps change often (a chunk of output, a tick of progress): they are
   * redrawn with the clock, not per event, so a chatty step costs little.
   */
  private changed(): void {
    if (!this.timer) this.redraw();
  }

  private startTimer(): void {
    if (this.refreshMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running.size > 0) this.redraw();
    }, this.refreshMs);
    this.timer.unref();
  }

  private titleOf(step: RunningStep): string {
    return `${step.info.instruction}${step.rebuildReason ? ` (rebuilding: ${step.rebuildReason})` : ''}`;
  }

  /** `#2 [build 2/5] RUN make ......... 3.1s`, the time right-aligned when the line fits. */
  private finishedLine(info: StepInfo, text: string, right: string): string {
    const left = `#${info.step} [${info.stage} ${info.index}/${info.total}] ${text}`;
    const width = this.width();
    const gap = width - left.length - right.length;
    return gap >= 2 ? `${left}${' '.repeat(gap)}${right}` : `${left}  ${right}`;
  }

  private redraw(): void {
    if (this.liveHeight === 0 && this.pending.length === 0 && this.running.size === 0) return;
    let text = this.liveHeight > 0 ? `\r${UP(this.liveHeight)}${CLEAR_TO_END}` : '';
    for (const line of this.pending) text += `${line}\n`;
    this.pending = [];
    const live = this.liveRegion();
    for (const line of live) text += `${line}\n`;
    this.liveHeight = live.length;
    this.out.write(text);
  }

  /** The running steps, each with its last lines of output, cut to the terminal's size. */
  private liveRegion(): string[] {
    const width = this.width();
    const steps = [...this.running.values()];
    if (steps.length === 0) return [];
    // Keep the region shorter than the screen, or moving back up over it fails.
    const room = Math.max(steps.length, (this.out.rows || 24) - 2);
    const tailLines = Math.max(0, Math.min(this.tailLines, Math.floor((room - steps.length) / steps.length)));
    const lines: string[] = [];
    for (const step of steps.slice(0, room)) {
      const elapsed = formatDuration(this.now() - step.started);
      const progress = step.progress ? ` ${step.progress.phase} ${humanSize(step.progress.bytes)}` : '';
      const right = `${progress} ${elapsed}`;
      const left = fit(` => #${step.info.step} ${stepTitle(step.info)}`, width - right.length - 1);
      lines.push(`${left}${' '.repeat(Math.max(1, width - left.length - right.length))}${right}`.slice(0, width));
      if (tailLines === 0) continue;
      const partial = step.lines.peek();
      const tail = (partial ? [...step.tail, partial] : step.tail).slice(-tailLines);
      for (const line of tail) lines.push(`${DIM}${fit(`    ${printable(line)}`, width)}${RESET}`);
    }
    return lines;
  }

  private width(): number {
    return Math.max(20, (this.out.columns || 80) - 1);
  }
}

/** Shortens a line to `width` characters, marking the cut. */
function fit(line: string, width: number): string {
  if (width <= 1) return '';
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/** A line of program output without escape sequences or control characters, which would break the redraw. */
function printable(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b[@-_]/g, '').replace(/\t/g, '  ').replace(/[\x00-\x1f\x7f]/g, '');
}
