/**
 * Streams bytes through a compression program (zstd, igzip): they go to the
 * child's stdin and come back from its stdout, so memory stays bounded.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorruptArchiveError, LayerToolError, toolPackage } from './errors.js';

export interface ToolPipe {
  /** The program's name, as messages give it (and its package). */
  tool: string;
  /** Where it is, when found beforehand; else it is looked up on PATH by its name. */
  path?: string;
  args: string[];
  /** What the tool is doing, for error messages: "compressing a layer". */
  doing: string;
  /** Decompressing: a failure then means damaged input (CorruptArchiveError). */
  decompressing?: boolean;
}

function isBrokenPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

export async function* throughTool(pipe: ToolPipe, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const { tool, args, doing } = pipe;
  // Loaded here, not with the module: the layer unpacking thread (apply-worker-main.ts) imports this
  // module, and execa's hundred modules were most of that thread's start-up (0.1 s) for the rare zstd layer.
  const { execa } = await import('execa');
  const child = execa(pipe.path ?? tool, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false }, reject: false });
  let feedError: unknown;
  // An error of the source (a bad entry found while hashing, say) stops the tool and wins over its exit status.
  const feeding = pipeline(Readable.from(source, { objectMode: false }), child.stdin!).catch((error: unknown) => {
    feedError = error;
    child.kill();
  });
  let done = false;
  try {
    for await (const chunk of child.stdout!) yield chunk as Buffer;
    await feeding;
    const result = await child;
    if (feedError !== undefined && !isBrokenPipe(feedError)) throw feedError;
    if (result.exitCode === undefined) {
      throw new LayerToolError(tool, `could not run it while ${doing} (${result.originalMessage ?? result.message}); install the "${toolPackage(tool)}" package`, result);
    }
    if (result.exitCode !== 0) {
      const detail = String(result.stderr).trim().replace(new RegExp(`^${tool}: (\\/\\*stdin\\*\\\\: )?`), '') || `exit status ${result.exitCode}`;
      if (pipe.decompressing) throw new CorruptArchiveError(`the ${tool} data is damaged or incomplete (${detail})`);
      throw new LayerToolError(tool, `${doing}: ${detail}`);
    }
    done = true;
  } finally {
    if (!done) {
      // The consumer stopped early or something failed: never leave the tool running.
      child.kill();
      await child.catch(() => undefined);
      await feeding;
    }
  }
}
