/**
 * zstd through the `zstd` command-line tool (package "zstd"): Node 20's zlib has no
 * zstd. Bytes stream through the child's stdin and stdout, so memory stays bounded.
 *
 * Compression is deterministic: a fixed level, and `-T0` (one worker per core), whose
 * output libzstd guarantees to be the same for any number of workers >= 1 (only
 * `--single-thread` differs). Another zstd release may still compress differently.
 */
import { throughTool } from './tool-pipe.js';

/** zstd's own default, and what containerd and BuildKit use for zstd layers. */
export const ZSTD_LEVEL = 3;

export function zstdCompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  return throughTool({ tool: 'zstd', args: ['-q', `-${ZSTD_LEVEL}`, '-T0', '-c'], doing: 'compressing a layer' }, source);
}

/** Decompresses zstd data; damaged or truncated input raises CorruptArchiveError. */
export function zstdDecompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  return throughTool({ tool: 'zstd', args: ['-q', '-d', '-c'], doing: 'decompressing a layer', decompressing: true }, source);
}
