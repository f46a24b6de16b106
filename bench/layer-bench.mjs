#!/usr/bin/env node
/**
 * Layer commit benchmark: ~1 GiB in ~50,000 files, committed with ribo's
 * writeLayerFromUpperDir beside `tar -c | gzip` (and `tar -c | igzip`, `tar -c | pigz`, and zstd both ways, when installed),
 * in the same run and on the same page-cache-warm tree. Prints throughput and peak
 * RSS of each. Not part of the test suite.
 *
 *   npx tsc -p tsconfig.json && node bench/layer-bench.mjs [--files N] [--mib N] [--keep DIR]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? fallback : args[index + 1];
};
const FILES = Number(option('files', 50000));
const TOTAL_BYTES = Number(option('mib', 1024)) * 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const layerModule = join(here, '..', 'dist', 'src', 'layer', 'index.js');
// The command-line tools run at the level ribo's gzip uses, so the comparison is of speed alone:
// igzip's where ribo writes gzip with igzip (package isal), else zlib's.
const { LAYER_GZIP, gzipCompressor } = await import(join(here, '..', 'dist', 'src', 'layer', 'compression.js'));
const { IGZIP_LEVEL } = await import(join(here, '..', 'dist', 'src', 'layer', 'igzip.js'));
const RIBO_GZIP = await gzipCompressor();
const GZIP_LEVEL = `-${LAYER_GZIP.level}`;
const RIBO_GZIP_NAME = RIBO_GZIP.kind === 'igzip' ? `igzip -${IGZIP_LEVEL}` : `gzip ${GZIP_LEVEL}`;

if (process.argv[2] === '--child') {
  // Runs in its own process so its peak RSS is its own.
  const { writeLayerFromUpperDir } = await import(layerModule);
  const { createWriteStream } = await import('node:fs');
  const started = performance.now();
  const digests = await writeLayerFromUpperDir(process.argv[3], createWriteStream(process.argv[4]), { compression: process.argv[5] ?? 'gzip' });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ seconds, digests, maxRssKiB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

/** Deterministic pseudo-random numbers so every run builds the same tree. */
function prng(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/**
 * A pool of content about as compressible as a root filesystem (roughly 2:1 with
 * gzip): 4 KiB pages, half incompressible, half repetitive text. Files are slices
 * of it at pseudo-random offsets, so the tree is written at disk speed.
 */
function contentPool(bytes, random) {
  const pool = Buffer.allocUnsafe(bytes);
  const text = Buffer.from('usr/lib/x86_64-linux-gnu/libexample.so.1 ELF symbol table entry version GLIBC_2.34\n');
  for (let offset = 0; offset < bytes; offset += 4096) {
    const page = pool.subarray(offset, offset + 4096);
    if (random() < 0.5) fillNoise(page, offset);
    else for (let i = 0; i < page.length; i += text.length) text.copy(page, i, 0, Math.min(text.length, page.length - i));
  }
  return pool;
}

function fillNoise(page, seed) {
  // Counter-mode hashing: fast, deterministic, incompressible.
  for (let i = 0; i < page.length; i += 64) createHash('sha512').update(`${seed}:${i}`).digest().copy(page, i);
}

function buildTree(root) {
  const random = prng(42);
  const pool = contentPool(64 * 1024 * 1024, random);
  // Log-normal-ish sizes scaled so the total is TOTAL_BYTES.
  const weights = Array.from({ length: FILES }, () => Math.exp(random() * 6));
  const scale = TOTAL_BYTES / weights.reduce((a, b) => a + b, 0);
  const perDir = 100;
  let written = 0;
  for (let i = 0; i < FILES; i++) {
    const dir = join(root, `pkg${Math.floor(i / perDir / 20)}`, `dir${Math.floor(i / perDir)}`);
    if (i % perDir === 0) mkdirSync(dir, { recursive: true });
    const size = Math.min(pool.length, Math.max(0, Math.round(weights[i] * scale)));
    const start = Math.floor(random() * (pool.length - size)) & ~4095;
    writeFileSync(join(dir, `file${i}`), pool.subarray(start, start + size));
    written += size;
  }
  return written;
}

function timed(command) {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M', 'sh', '-c', command], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const [seconds, maxRssKiB] = result.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { seconds, maxRssKiB };
}

const work = option('keep', null) ?? mkdtempSync(join(tmpdir(), 'ribo-layer-bench-'));
const tree = join(work, 'upper');
try {
  let bytes;
  if (!existsSync(tree)) {
    process.stdout.write(`building ${FILES} files, ${(TOTAL_BYTES / 2 ** 20).toFixed(0)} MiB in ${tree} ... `);
    mkdirSync(tree, { recursive: true });
    bytes = buildTree(tree);
    console.log('done');
  } else {
    bytes = Number(execFileSync('du', ['-sb', tree], { encoding: 'utf8' }).split('\t')[0]);
  }
  execFileSync('sh', ['-c', `tar -C ${tree} -cf - . > /dev/null`]); // warm the page cache for everyone

  const rows = [];
  const report = (name, seconds, maxRssKiB, outputPath) => {
    const size = statSync(outputPath).size;
    rows.push({ name, seconds, mibPerSecond: bytes / 2 ** 20 / seconds, peakRssMiB: maxRssKiB / 1024, ratio: bytes / size });
  };

  const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
  const riboRun = (compression) => {
    const out = join(work, `ribo.${compression}`);
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', tree, out, compression], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (child.status !== 0) throw new Error(`ribo run failed: ${child.stderr}`);
    const result = JSON.parse(child.stdout);
    report(`ribo layer commit (${compression === 'gzip' ? RIBO_GZIP_NAME : 'zstd -3'})`, result.seconds, result.maxRssKiB, out);
  };
  const shellRun = (name, command, out) => {
    const result = timed(`${command} > ${out}`);
    report(name, result.seconds, result.maxRssKiB, out);
  };
  if (!has('pigz')) console.log('(pigz is not installed: skipping tar | pigz)');
  for (let round = 0; round < 2; round++) {
    riboRun('gzip');
    if (RIBO_GZIP.kind === 'igzip') shellRun(`tar -c | igzip -${IGZIP_LEVEL}`, `tar -C ${tree} -cf - . | igzip -${IGZIP_LEVEL} -n -c`, join(work, 'tar-igzip.tar.gz'));
    shellRun(`tar -c | gzip ${GZIP_LEVEL}`, `tar -C ${tree} -cf - . | gzip ${GZIP_LEVEL}`, join(work, 'tar-gzip.tar.gz'));
    if (has('pigz')) shellRun(`tar -c | pigz ${GZIP_LEVEL}`, `tar -C ${tree} -cf - . | pigz ${GZIP_LEVEL}`, join(work, 'tar-pigz.tar.gz'));
    if (has('zstd')) {
      riboRun('zstd');
      shellRun('tar -c | zstd -3 -T0', `tar -C ${tree} -cf - . | zstd -q -3 -T0`, join(work, 'tar-zstd.tar.zst'));
    }
  }

  console.log(`\n${FILES} files, ${(bytes / 2 ** 20).toFixed(0)} MiB of content, ${process.version}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} CPUs`);
  console.log('run                                      seconds   MiB/s   peak RSS MiB   ratio');
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(40)} ${row.seconds.toFixed(2).padStart(7)} ${row.mibPerSecond.toFixed(0).padStart(7)} ${row.peakRssMiB.toFixed(0).padStart(14)} ${row.ratio.toFixed(2).padStart(7)}`,
    );
  }
  console.log('(peak RSS of the tar | gzip pipelines is the largest single process, as /usr/bin/time reports for the shell)');
} finally {
  if (!option('keep', null)) rmSync(work, { recursive: true, force: true });
}
