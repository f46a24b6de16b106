import { RiboError } from '../errors.js';
import type { SourceLocation } from '../dockerfile/commands.js';

export function where(location: SourceLocation): string {
  return `${location.file}:${location.startLine}`;
}

/** A Dockerfile step that could not be carried out; nothing is tagged after one. */
export class BuildStepError extends RiboError {
  constructor(message: string, readonly location: SourceLocation, options: { cause?: unknown } = {}) {
    super(`${where(location)}: ${message}`, options);
  }
}

/** A RUN whose command exited non-zero. */
export class RunStepFailedError extends BuildStepError {
  constructor(readonly command: string[], readonly commandExitCode: number, location: SourceLocation) {
    super(
      `RUN ${JSON.stringify(command)} exited with code ${commandExitCode}. The build stopped here and nothing was tagged. Fix the command, then build again.`,
      location,
    );
  }
}

/** A build that failed, its error completed with where the build's log is kept. */
export class BuildFailedError extends RiboError {
  constructor(message: string, cause: RiboError) {
    super(message, { exitCode: cause.exitCode, cause });
  }
}
