import type { BuildEvent, BuildReporter } from '../../build/progress/events.js';

/** One JSON object per line, each a build event as defined in build/progress/events.ts. */
export class JsonRenderer implements BuildReporter {
  constructor(private readonly out: NodeJS.WritableStream) {}

  report(event: BuildEvent): void {
    this.out.write(`${JSON.stringify(event)}\n`);
  }
}
