/**
 * A container command that could not be started, told apart from one that
 * ran and failed. crun and runc both exit 1 either way; their own log (the
 * global `--log FILE --log-format json`, one JSON object a line) holds an
 * error entry when they failed to start the process. Docker's CLI exits 127
 * when the command is not found and 126 when it cannot be invoked
 * (permission denied, a directory, not an executable format), 125 when the
 * error is its own; ribo does the same for `run` and `exec`.
 */
import { readFile } from 'node:fs/promises';

export interface StartFailure {
  exitCode: 126 | 127;
  /** Why, in a few words, for the message naming the command. */
  reason: string;
}

/** Classifies a runtime error message, or undefined when it is not about the command. */
export function classifyStartError(message: string): StartFailure | undefined {
  // Only errors about executing the command: a missing bind mount source is no missing command.
  if (!/exec/i.test(message)) return undefined;
  if (/exec format error/i.test(message)) return { exitCode: 126, reason: 'it is not in an executable format' };
  if (/not found in \$PATH|executable file not found|no such file or directory/i.test(message)) return { exitCode: 127, reason: 'no such command in the container' };
  if (/permission denied|operation not permitted|is a directory/i.test(message)) return { exitCode: 126, reason: 'it is not executable (permission denied)' };
  return undefined;
}

/** The error messages of a runtime log file (JSON lines with level and msg); [] when there is none. */
export async function runtimeErrors(logFile: string): Promise<string[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) errors.push(entry.msg);
    } catch {
      // a line that is not JSON (a runtime writing text): not an entry
    }
  }
  return errors;
}

/**
 * What failed to start, from the runtime's logged errors or, for runc, whose
 * init reports a failed exec on the container's stderr only, from the last
 * line the container wrote there.
 */
export function startFailure(errors: string[], stderrTail: string): StartFailure | undefined {
  for (const message of errors) {
    const failure = classifyStartError(message);
    if (failure) return failure;
  }
  const last = stderrTail.trimEnd().split('\n').at(-1) ?? '';
  return /^exec .+: exec format error$/.test(last) ? classifyStartError(last) : undefined;
}

/** The one line ribo prints for it, naming the command. */
export function startFailureMessage(command: string | undefined, failure: StartFailure): string {
  return `ribo: cannot run ${JSON.stringify(command ?? '')}: ${failure.reason} (exit code ${failure.exitCode})\n`;
}
