/** Layer blobs compressed and written while later steps run (commit.ts, startCommit): kept until the build settles, so none is left half-written and the first failure fails the build. */
import type { BuildReporter } from './progress/events.js';

export class BackgroundCommits {
  private readonly pending: Array<Promise<void>> = [];
  private failure?: { error: unknown };

  constructor(private readonly reporter: BuildReporter) {}

  /** Keeps a step's background commit; its failure fails the step and, at the next step or at settled(), the build. */
  add(step: number, stepStarted: number, work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => {
      this.reporter.report({ type: 'step-failed', time: Date.now(), step, durationMs: Date.now() - stepStarted, message: error instanceof Error ? error.message : String(error) });
      this.failure ??= { error };
    });
    this.pending.push(tracked);
  }

  /** Throws the first background commit's failure, if one failed already. */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Waits for every background commit (so nothing is written after the build returns); throws the first failure. */
  async settled(): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
    this.check();
  }
}
