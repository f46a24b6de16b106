import type { BuildEvent, BuildReporter } from '../../build/progress/events.js';
import { humanSize } from '../format.js';
import { formatDuration, LineSplitter, stepTitle } from './format.js';

/**
 * Line-oriented progress for logs, Makefiles and CI: every line starts with
 * its step's number, so the lines of stages running at the same time can be
 * told apart and grepped.
 *
 *   #2 [build 2/5] RUN make
 *   #2 cc -o app main.c
 *   #2 DONE 3.1s
 */
export class PlainRenderer implements BuildReporter {
  private readonly lines = new Map<number, LineSplitter>();

  constructor(private readonly out: NodeJS.WritableStream) {}

  report(event: BuildEvent): void {
    switch (event.type) {
      case 'warning':
        this.write(`WARNING: ${event.message}${event.file ? ` (${event.file}:${event.line})` : ''}`);
        break;
      case 'info':
        this.write(event.message);
        break;
      case 'step-cached':
        this.write(`#${event.step} [${event.stage} ${event.index}/${event.total}] CACHED ${event.instruction}`);
        break;
      case 'step-start':
        this.write(`#${event.step} ${stepTitle(event)}${event.rebuildReason ? ` (rebuilding: ${event.rebuildReason})` : ''}`);
        break;
      case 'step-log': {
        let splitter = this.lines.get(event.step);
        if (!splitter) this.lines.set(event.step, (splitter = new LineSplitter()));
        for (const line of splitter.push(event.data)) this.write(`#${event.step} ${line}`);
        break;
      }
      case 'step-progress':
        break;
      case 'step-done':
        this.flushStep(event.step);
        this.write(`#${event.step} DONE ${formatDuration(event.durationMs)}${event.layer ? ` (layer ${event.layer.digest.slice(7, 19)}, ${humanSize(event.layer.size)})` : ''}`);
        break;
      case 'step-failed':
        this.flushStep(event.step);
        this.write(`#${event.step} ERROR after ${formatDuration(event.durationMs)}${event.exitCode === undefined ? '' : `: exit code ${event.exitCode}`}`);
        break;
      case 'build-done':
        this.write(`Built ${event.image} in ${formatDuration(event.durationMs)}${event.tags.length ? `, tagged ${event.tags.join(', ')}` : ''}`);
        break;
      default:
        // build-start, stage-start, build-failed: the step lines and the error message say enough.
        break;
    }
  }

  private flushStep(step: number): void {
    for (const line of this.lines.get(step)?.flush() ?? []) this.write(`#${step} ${line}`);
    this.lines.delete(step);
  }

  private write(line: string): void {
    this.out.write(`${line}\n`);
  }
}
