import { RiboError } from '../errors.js';

/** Where in a Dockerfile a problem is. Lines and columns are 1-based. */
export interface ErrorPosition {
  file: string;
  line: number;
  column?: number;
  endLine?: number;
  /** The physical source line, shown under the message. */
  sourceLine?: string;
}

function describe(reason: string, pos: ErrorPosition | undefined, hint: string | undefined): string {
  let text = pos ? `${pos.file}:${pos.line}${pos.column ? `:${pos.column}` : ''}: ${reason}` : reason;
  if (pos?.sourceLine !== undefined) text += `\n    ${pos.line} | ${pos.sourceLine}`;
  if (hint) text += `\nhint: ${hint}`;
  return text;
}

/** Anything wrong with a Dockerfile: the base of every front-end error. */
export class DockerfileError extends RiboError {
  readonly reason: string;
  readonly position?: ErrorPosition;
  readonly hint?: string;
  constructor(reason: string, position?: ErrorPosition, hint?: string, options: { cause?: unknown } = {}) {
    super(describe(reason, position, hint), options);
    this.reason = reason;
    this.position = position;
    this.hint = hint;
  }
  get file(): string | undefined { return this.position?.file; }
  get line(): number | undefined { return this.position?.line; }
  get column(): number | undefined { return this.position?.column; }
}

/** The text cannot be parsed into instructions (directives, JSON, heredocs...). */
export class DockerfileSyntaxError extends DockerfileError {}

/** An instruction is well-formed text but invalid (unknown keyword, bad flag, arity...). */
export class DockerfileInstructionError extends DockerfileError {}

/** Stage-level problems: no FROM, duplicate names, unknown target, cycles. */
export class DockerfileStageError extends DockerfileError {}

/** Variable expansion failed, e.g. ${X:?must be set} or a bad substitution. */
export class ExpansionError extends DockerfileError {}

/** The Dockerfile named by the user does not exist or cannot be read. */
export class DockerfileNotFoundError extends RiboError {
  constructor(readonly path: string, cause?: unknown) {
    super(`Dockerfile not found: ${path}. Pass the right file with -f/--file, or run ribo from the build context that contains it.`, { cause });
  }
}

/** A .dockerignore pattern is malformed. */
export class DockerignoreError extends RiboError {
  constructor(readonly file: string, readonly line: number, readonly pattern: string, reason: string) {
    super(`${file}:${line}: invalid pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

/** A failure detected deep inside a helper, before the caller knows the location. */
export class LocalSyntaxError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = 'LocalSyntaxError';
  }
}
