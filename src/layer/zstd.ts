/**
 * zstd through the `zstd` command-line tool (package "zstd"): Node 20's zlib has no
 * zstd. Bytes stream through the child's stdin and stdout, so memory stays bounded.
 *
 * Compression is deterministic: a fixed level, and `-T0` (one worker per core), whose
 * output libzstd guarantees to be the same for any number of workers >= 1 (only
 * `--single-thread` differs). Another zstd release may still compress differently.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorruptArchiveError, LayerToolError } from './errors.js';

/** zstd's own default, and what containerd and BuildKit use for zstd layers. */
export const ZSTD_LEVEL = 3;

export function zstdCompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  return throughZstd(['-q', `-${ZSTD_LEVEL}`, '-T0', '-c'], source, 'compressing a layer');
}

/** Decompresses zstd data; damaged or truncated input raises CorruptArchiveError. */
export function zstdDecompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  return throughZstd(['-q', '-d', '-c'], source, 'decompressing a layer');
}

function isBrokenPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

async function* throughZstd(args: string[], source: AsyncIterable<Buffer>, doing: string): AsyncGenerator<Buffer> {
  // Loaded here, not with the module: the layer unpacking thread (apply-worker-main.ts) imports this
  // module, and execa's hundred modules were most of that thread's start-up (0.1 s) for the rare zstd layer.
  const { execa } = await import('execa');
  const child = execa('zstd', args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: { stdout: false }, reject: false });
  let feedError: unknown;
  // An error of the source (a bad entry found while hashing, say) stops zstd and wins over its exit status.
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
      throw new LayerToolError('zstd', `could not run it while ${doing} (${result.originalMessage ?? result.message}); install the "zstd" package`, result);
    }
    if (result.exitCode !== 0) {
      const detail = String(result.stderr).trim().replace(/^zstd: (\/\*stdin\*\\: )?/, '') || `exit status ${result.exitCode}`;
      if (args.includes('-d')) throw new CorruptArchiveError(`the zstd data is damaged or incomplete (${detail})`);
      throw new LayerToolError('zstd', `${doing}: ${detail}`);
    }
    done = true;
  } finally {
    if (!done) {
      // The consumer stopped early or something failed: never leave zstd running.
      child.kill();
      await child.catch(() => undefined);
      await feeding;
    }
  }
}
