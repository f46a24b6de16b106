/**
 * Variable expansion of typed commands, applied by the engine with the
 * environment in force at each step. Only the instructions (and fields)
 * Docker expands are touched; RUN, CMD and ENTRYPOINT command lines are left
 * to the shell.
 */
import type { ArgCommand, Command, CopyCommand } from './commands.js';
import { ExpansionError, LocalSyntaxError } from './errors.js';
import { validateMount } from './mounts.js';
import { validateChecksum, validatePort, validateSignal } from './validate.js';
import { ShellLexer, type EnvSource, type LexerOptions } from './shell-lexer.js';

export interface ExpandOptions {
  /** Overrides the escape character recorded on the command. */
  escapeToken?: string;
}

function lexerFor(cmd: Command, opts: ExpandOptions, extra: LexerOptions = {}): ShellLexer {
  return new ShellLexer({ escapeToken: opts.escapeToken ?? cmd.escapeToken ?? '\\', ...extra });
}

function located(cmd: Command, err: unknown): never {
  if (err instanceof LocalSyntaxError) {
    throw new ExpansionError(err.message, {
      file: cmd.location.file, line: cmd.location.startLine, endLine: cmd.location.endLine, sourceLine: cmd.original,
    }, err.hint ?? 'check the ${...} syntax, or escape a literal $ as \\$');
  }
  throw err;
}

/** Returns a copy of `cmd` with its words expanded against `env`. */
export function expandCommand<C extends Command>(cmd: C, env: EnvSource, opts: ExpandOptions = {}): C {
  return expandAny(cmd, env, opts) as C;
}

function expandAny(cmd: Command, env: EnvSource, opts: ExpandOptions): Command {
  const lexer = lexerFor(cmd, opts);
  const word = (text: string) => lexer.processWord(text, env);
  const optional = (text: string | undefined) => (text === undefined ? undefined : word(text));
  try {
    switch (cmd.kind) {
      case 'COPY':
      case 'ADD': {
        // Docker expands heredoc bodies with `\` as escape whatever the escape directive says.
        const heredocLexer = new ShellLexer({ escapeToken: '\\', skipProcessQuotes: true });
        const copy: CopyCommand = {
          ...cmd,
          sources: cmd.sources.map(word),
          dest: word(cmd.dest),
          exclude: cmd.exclude.map(word),
          heredocs: cmd.heredocs.map((h) => (h.expand ? { ...h, content: heredocLexer.processWord(h.content, env) } : { ...h })),
        };
        for (const field of ['from', 'chown', 'chmod', 'checksum'] as const) {
          const value = optional(cmd[field]);
          if (value !== undefined) copy[field] = value;
        }
        if (copy.checksum) validateChecksum(copy.checksum);
        return copy;
      }
      case 'ENV':
      case 'LABEL':
        return { ...cmd, pairs: cmd.pairs.map((p) => ({ key: word(p.key), value: word(p.value) })) };
      case 'ARG':
        return { ...cmd, args: cmd.args.map((a) => (a.value === undefined ? { ...a } : { ...a, value: word(a.value) })) };
      case 'EXPOSE': {
        const ports = cmd.ports.flatMap((p) => lexer.processWords(p, env));
        ports.forEach(validatePort);
        return { ...cmd, ports };
      }
      case 'VOLUME':
        return { ...cmd, paths: cmd.paths.map(word) };
      case 'USER':
        return { ...cmd, user: word(cmd.user) };
      case 'WORKDIR':
        return { ...cmd, path: word(cmd.path) };
      case 'STOPSIGNAL': {
        const signal = word(cmd.signal);
        validateSignal(signal);
        return { ...cmd, signal };
      }
      case 'RUN':
        return {
          ...cmd,
          mounts: cmd.mounts.map((m) => validateMount({
            type: m.type,
            options: Object.fromEntries(Object.entries(m.options).map(([k, v]) => [k, word(v)])),
          })),
        };
      default:
        return cmd;
    }
  } catch (err) {
    return located(cmd, err);
  }
}

/**
 * The values an ARG instruction sets, given the --build-arg values and the
 * environment before it: a build argument wins, else the default expanded.
 * Keys with no value at all are declared but unset (undefined).
 */
export function resolveArgValues(cmd: ArgCommand, env: EnvSource, buildArgs: Readonly<Record<string, string>> = {}): Array<{ key: string; value?: string }> {
  const expanded = expandCommand(cmd, env);
  return expanded.args.map(({ key, value }) => {
    if (Object.prototype.hasOwnProperty.call(buildArgs, key)) return { key, value: buildArgs[key] };
    return value === undefined ? { key } : { key, value };
  });
}

/** Quote `value` so that expanding it with `escapeToken` gives it back unchanged. */
export function quoteLiteral(value: string, escapeToken = '\\'): string {
  let out = '';
  for (const ch of value) out += ch === escapeToken || ch === '$' || ch === '"' || ch === "'" ? escapeToken + ch : ch;
  return out;
}
