/**
 * What a build tells the outside world while it runs. The builder emits these
 * events to a reporter it is given; renderers (cli/progress/) turn them into
 * terminal views, plain lines or JSON, and the build log keeper writes each
 * step's output into the store. Times are milliseconds since 1970.
 */

/** Which step an event is about, as the user sees it in the Dockerfile. */
export interface StepInfo {
  /** Number of the step in this build (1, 2, …), in the order steps started. */
  step: number;
  /** Stage name, or `stage-N` for an unnamed one. */
  stage: string;
  /** 1-based position of the instruction in its stage, and the stage's instruction count. */
  index: number;
  total: number;
  /** The instruction as written (first line of it for heredocs). */
  instruction: string;
  file: string;
  line: number;
}

export type BuildEvent =
  | { type: 'build-start'; time: number; dockerfile: string; context: string; /** Set by the CLI: the id its log is kept under. */ buildId?: string }
  | { type: 'stage-start'; time: number; stage: string; base: string }
  | ({ type: 'step-start'; time: number; /** With --explain: why the cache could not be used. */ rebuildReason?: string } & StepInfo)
  | ({ type: 'step-cached'; time: number } & StepInfo)
  | { type: 'step-log'; time: number; step: number; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'step-progress'; time: number; step: number; phase: string; bytes: number }
  | { type: 'step-done'; time: number; step: number; durationMs: number; layer?: { digest: string; size: number } }
  | { type: 'step-failed'; time: number; step: number; durationMs: number; exitCode?: number; message: string }
  | { type: 'build-done'; time: number; image: string; tags: string[]; durationMs: number }
  | { type: 'build-failed'; time: number; durationMs: number; message: string }
  | { type: 'warning'; time: number; message: string; file?: string; line?: number }
  /** News outside any step, e.g. a base image being pulled. */
  | { type: 'info'; time: number; message: string };

export type BuildEventType = BuildEvent['type'];

/** Receives a build's events, in order; must not throw. */
export interface BuildReporter {
  report(event: BuildEvent): void;
  /**
   * While the reporter's writes are backed up (a slow disk), a promise that
   * resolves when they are through: a step's output waits for it, so a chatty
   * step is slowed down instead of filling memory. Undefined when not backed up.
   */
  drained?(): Promise<void> | undefined;
}

/** Sends every event to each reporter in turn (e.g. a renderer and the log keeper). */
export function teeReporter(...reporters: BuildReporter[]): BuildReporter {
  return {
    report: (event) => reporters.forEach((r) => r.report(event)),
    drained: () => {
      const waits = reporters.map((r) => r.drained?.()).filter((wait) => wait !== undefined);
      return waits.length > 0 ? Promise.all(waits).then(() => undefined) : undefined;
    },
  };
}

/** Drops every event (a library caller that wants no progress). */
export const silentReporter: BuildReporter = { report: () => {} };
