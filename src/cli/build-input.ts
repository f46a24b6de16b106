/**
 * Where a build's Dockerfile and context come from, as `docker build` takes
 * them: a context directory (Dockerfile from -f or CONTEXT/Dockerfile),
 * `-f -` (the Dockerfile on stdin, the context a directory) or `-` as the
 * context (the Dockerfile on stdin and no context at all; -f is then ignored).
 */
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';

/** The name a Dockerfile read from stdin has in messages ("<stdin>:3: ..."). */
export const STDIN_DOCKERFILE = '<stdin>';

export interface BuildInput {
  /** Undefined: no context (`ribo build -`). */
  contextDir?: string;
  /** The Dockerfile's path, or STDIN_DOCKERFILE. */
  dockerfile: string;
  /** The Dockerfile read from stdin. */
  dockerfileText?: string;
}

/**
 * The context argument as typed. yargs turns a positional "-" into "" (it
 * parses it as a flag), so "" with a lone "-" on the command line that is not
 * the value of -f/--file was "-".
 */
export function contextArgument(parsed: unknown, rawArgs: readonly string[]): unknown {
  if (parsed !== '') return parsed;
  const dashIndex = rawArgs.findIndex((arg, i) => arg === '-' && !['-f', '--file'].includes(rawArgs[i - 1] ?? ''));
  return dashIndex >= 0 ? '-' : parsed;
}

/** True when the build reads its Dockerfile from stdin. */
export function readsStdin(context: unknown, file: unknown): boolean {
  return context === '-' || file === '-';
}

/**
 * Docker also takes a tar archive (plain or compressed) on stdin as the
 * context; ribo does not yet, and says so instead of parsing it as a Dockerfile.
 */
function looksLikeArchive(head: Buffer): boolean {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  return starts(0x1f, 0x8b) // gzip
    || starts(0x42, 0x5a, 0x68) // bzip2
    || starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) // xz
    || starts(0x28, 0xb5, 0x2f, 0xfd) // zstd
    || (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar');
}

const ARCHIVE_HEAD = 512;

async function readDockerfileFromStdin(stdin: NodeJS.ReadableStream, checkArchive: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let checked = !checkArchive;
  const check = () => {
    checked = true;
    if (looksLikeArchive(Buffer.concat(chunks))) {
      throw new UsageError('ribo build -: stdin holds an archive, which docker would take as the build context; a context from stdin is not supported yet. '
        + 'Unpack it and give the directory instead, e.g. mkdir ctx && tar -xf context.tar -C ctx && ribo build ctx.');
    }
  };
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(buffer);
    size += buffer.length;
    if (!checked && size >= ARCHIVE_HEAD) check();
  }
  if (!checked) check();
  return Buffer.concat(chunks).toString('utf8');
}

/** Resolves the context and Dockerfile from the arguments, reading stdin when they say so. */
export async function resolveBuildInput(context: unknown, file: unknown, stdin: NodeJS.ReadableStream): Promise<BuildInput> {
  if (context === '-' && file === '-') {
    throw new UsageError('ribo build - -f -: stdin can hold the Dockerfile or stand for "no context", not both; give a context directory with -f -, e.g. ribo build -f - .');
  }
  if (context === '-') return { dockerfile: STDIN_DOCKERFILE, dockerfileText: await readDockerfileFromStdin(stdin, true) };
  if (context === undefined || context === '') throw new UsageError('ribo build needs a build context: a directory (e.g. ribo build -t app .), or - to read only a Dockerfile from stdin.');
  const contextDir = path.resolve(String(context));
  const contextInfo = await stat(contextDir).catch(() => undefined);
  if (!contextInfo?.isDirectory()) throw new UsageError(`Build context ${contextDir} is not a directory; give the directory whose files COPY may use (or - for none, with the Dockerfile on stdin).`);
  if (file === '-') return { contextDir, dockerfile: STDIN_DOCKERFILE, dockerfileText: await readDockerfileFromStdin(stdin, false) };
  return { contextDir, dockerfile: file ? path.resolve(String(file)) : path.join(contextDir, 'Dockerfile') };
}
