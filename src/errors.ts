/**
 * Base class for every error ribo reports to a user. The CLI prints `message`
 * (one paragraph: what went wrong, where, and how to fix it) and exits with
 * `exitCode`; anything that is not a RiboError is a bug and gets a stack trace.
 */
export class RiboError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad command-line usage: a flag or argument the user must change. */
export class UsageError extends RiboError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
  }
}
