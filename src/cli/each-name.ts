import { RiboError } from '../errors.js';

/** An error ribo explains, as the user sees it; returns its exit code. */
export function reportError(error: RiboError): number {
  process.stderr.write(`ribo: error: ${error.message}\n`);
  return error.exitCode;
}

/**
 * Runs `act` for each name, as docker's commands over several containers or
 * images do: a name that fails (not found, still running) is reported on
 * stderr and the others are still acted on. Returns the exit code: 0, else
 * the last failure's. Errors that are not ribo's (bugs) stop at once.
 */
export async function forEachName(names: readonly string[], act: (name: string) => Promise<void>): Promise<number> {
  let exitCode = 0;
  for (const name of names) {
    try {
      await act(name);
    } catch (error) {
      if (!(error instanceof RiboError)) throw error;
      exitCode = reportError(error);
    }
  }
  return exitCode;
}
