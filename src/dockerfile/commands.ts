/**
 * Typed Dockerfile commands: what the front end hands to the build engine.
 *
 * Words are kept as written (unexpanded) except where noted; the engine calls
 * `expandCommand` (see expand.ts) with the environment in force at that step,
 * because expansion depends on the base image's ENV, known only at build time.
 */

export interface SourceLocation {
  /** Path of the Dockerfile as the user named it. */
  file: string;
  /** 1-based first and last physical line of the instruction. */
  startLine: number;
  endLine: number;
}

export interface Heredoc {
  /** Delimiter word, e.g. EOF. */
  name: string;
  /** Body text (with a trailing newline as in the file). */
  content: string;
  /** False when the delimiter was quoted: the body is not expanded. */
  expand: boolean;
  /** True for <<-: leading tabs were stripped. */
  chomp: boolean;
  /** The n of `n<<EOF` (0 when absent): RUN feeds the body to that descriptor. */
  fileDescriptor?: number;
}

interface CommandBase {
  /** The instruction as written (continuations joined), for history and cache keys. */
  original: string;
  location: SourceLocation;
  /** The Dockerfile's escape character (`\\` unless `# escape=` chose a backtick). */
  escapeToken?: string;
}

/** Shell form keeps the command as one string; exec form keeps the JSON array. */
export type CommandLine =
  | { form: 'shell'; command: string }
  | { form: 'exec'; args: string[] };

export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  /**
   * All key=value options of the --mount flag except type, unexpanded. Keys are
   * lower-cased and aliases normalised: src -> source, dst/destination -> target,
   * ro -> readonly; a bare `ro`/`readonly`/`required` is "true", a bare `rw` gives
   * readonly "false" (`rw=<v>` is kept as readonly "!<v>" until expansion).
   * After expandCommand the values are validated and `readonly` is always set
   * to "true" or "false" (Docker's default: read-only for bind, secret and ssh).
   */
  options: Record<string, string>;
}

export interface RunCommand extends CommandBase {
  kind: 'RUN';
  line: CommandLine;
  heredocs: Heredoc[];
  mounts: RunMount[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
}

export interface CopyCommand extends CommandBase {
  /** ADD and COPY share a shape; ADD-only flags are undefined on COPY. */
  kind: 'COPY' | 'ADD';
  /** Sources then destination, as written (the last element is the destination). */
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
  checksum?: string;
  keepGitDir?: boolean;
  /** ADD --unpack: true/false when given, undefined for the default (unpack local archives). */
  unpack?: boolean;
}

export interface EnvCommand extends CommandBase {
  kind: 'ENV';
  pairs: Array<{ key: string; value: string }>;
}

export interface ArgCommand extends CommandBase {
  kind: 'ARG';
  /**
   * `value` is the default as written. When an ARG without default re-declares a
   * global ARG (or a predefined one like TARGETARCH), toStages fills `value`
   * with the global value, quoted so that expansion returns it unchanged, and
   * sets `inherited`. A --build-arg for the key still takes precedence.
   */
  args: Array<{ key: string; value?: string; inherited?: boolean }>;
}

export interface LabelCommand extends CommandBase {
  kind: 'LABEL';
  pairs: Array<{ key: string; value: string }>;
}

export interface WorkdirCommand extends CommandBase {
  kind: 'WORKDIR';
  path: string;
}

export interface UserCommand extends CommandBase {
  kind: 'USER';
  user: string;
}

/** CMD and ENTRYPOINT: shell form is wrapped with SHELL by the engine. */
export interface CmdCommand extends CommandBase {
  kind: 'CMD' | 'ENTRYPOINT';
  line: CommandLine;
}

export interface ShellCommand extends CommandBase {
  kind: 'SHELL';
  shell: string[];
}

export interface ExposeCommand extends CommandBase {
  kind: 'EXPOSE';
  ports: string[];
}

export interface VolumeCommand extends CommandBase {
  kind: 'VOLUME';
  paths: string[];
}

export interface StopSignalCommand extends CommandBase {
  kind: 'STOPSIGNAL';
  signal: string;
}

export interface HealthcheckCommand extends CommandBase {
  kind: 'HEALTHCHECK';
  /** ["NONE"] disables; otherwise ["CMD", ...] or ["CMD-SHELL", cmd]. */
  test: string[];
  /** Durations in nanoseconds, as the image config stores them. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

export interface OnbuildCommand extends CommandBase {
  kind: 'ONBUILD';
  /** The trigger instruction's text, as stored in the image config. */
  expression: string;
}

export interface MaintainerCommand extends CommandBase {
  kind: 'MAINTAINER';
  maintainer: string;
}

export type Command =
  | RunCommand
  | CopyCommand
  | EnvCommand
  | ArgCommand
  | LabelCommand
  | WorkdirCommand
  | UserCommand
  | CmdCommand
  | ShellCommand
  | ExposeCommand
  | VolumeCommand
  | StopSignalCommand
  | HealthcheckCommand
  | OnbuildCommand
  | MaintainerCommand;

/** What a stage starts from. FROM lines are expanded with the global ARGs already. */
export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; index: number }
  | { kind: 'image'; ref: string };

export interface Stage {
  index: number;
  /** Lower-cased AS name, if any. */
  name?: string;
  base: StageBase;
  platform?: string;
  location: SourceLocation;
  commands: Command[];
  /** The FROM instruction as written. */
  original?: string;
}

export interface Warning {
  /** BuildKit check name where there is one, e.g. "MaintainerDeprecated". */
  rule: string;
  message: string;
  location?: SourceLocation;
}
