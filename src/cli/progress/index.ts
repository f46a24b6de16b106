import type { BuildEvent, BuildReporter } from '../../build/progress/events.js';
import { UsageError } from '../../errors.js';
import { JsonRenderer } from './json.js';
import { PlainRenderer } from './plain.js';
import { TtyRenderer, type TerminalStream } from './tty.js';

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'json'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export function parseProgressMode(value: string): ProgressMode {
  if ((PROGRESS_MODES as readonly string[]).includes(value)) return value as ProgressMode;
  throw new UsageError(`--progress=${value}: choose one of ${PROGRESS_MODES.join(', ')} (auto: a live view on a terminal, plain lines otherwise).`);
}

/** A renderer that is told when nothing more comes (the live view stops its clock). */
export interface Renderer extends BuildReporter {
  close?(): void;
}

/** auto is the live view when stderr is a terminal that can move its cursor, plain lines otherwise. */
export function resolveProgressMode(mode: ProgressMode, stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/** The renderer for a mode, writing to `stream` (ribo's stderr: stdout carries only the image id). */
export function createRenderer(mode: Exclude<ProgressMode, 'auto'>, stream: NodeJS.WritableStream & TerminalStream): Renderer {
  switch (mode) {
    case 'tty':
      return new TtyRenderer(stream);
    case 'json':
      return new JsonRenderer(stream);
    case 'plain':
      return new PlainRenderer(stream);
  }
}

/** Adds the build's id to its build-start event, so tools and users can ask for its log later. */
export function withBuildId(reporter: BuildReporter, buildId: string): BuildReporter {
  return {
    report: (event: BuildEvent) => reporter.report(event.type === 'build-start' ? { ...event, buildId } : event),
    drained: () => reporter.drained?.(),
  };
}
