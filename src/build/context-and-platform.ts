/**
 * Checks the engine makes before it carries a Dockerfile out: the platforms
 * its stages build for (and which of their RUN steps are emulated), and which steps read the build context (for builds that
 * have none, like `ribo build -`).
 */
import type { Command, Stage } from '../dockerfile/commands.js';
import { formatPlatform, parsePlatform, type Platform } from '../dockerfile/index.js';
import { needsEmulation } from '../runtime/emulation.js';
import { isGitSource, isUrlSource } from './add-source.js';
import { BuildStepError } from './errors.js';

/**
 * The platform each stage builds for, as BuildKit decides it: its FROM
 * --platform (expanded and normalised), else the platform of the stage it
 * starts from, else the build's target platform.
 */
export function stagePlatforms(stages: readonly Stage[], target: Platform): Platform[] {
  const platforms: Platform[] = [];
  for (const stage of stages) {
    if (stage.platform !== undefined) platforms.push(parsePlatform(stage.platform));
    else if (stage.base.kind === 'stage') platforms.push(platforms[stage.base.index] ?? target);
    else platforms.push(target);
  }
  return platforms;
}

/**
 * One line saying which RUN steps of the stages to build will run under QEMU
 * (a foreign stage's RUN steps run several times slower), or undefined when
 * all run natively. Cached steps do not run at all, so this is an upper bound.
 */
export function emulationSummary(stages: readonly Stage[], needed: readonly number[], platforms: readonly Platform[]): string | undefined {
  const byPlatform = new Map<string, string[]>();
  let total = 0;
  for (const index of [...new Set(needed)].sort((a, b) => a - b)) {
    const runs = stages[index]!.commands.filter((c) => c.kind === 'RUN').length;
    if (runs === 0 || !needsEmulation(platforms[index]!)) continue;
    const name = formatPlatform(platforms[index]!);
    byPlatform.set(name, [...(byPlatform.get(name) ?? []), `${runs} in stage ${stages[index]!.name ?? `stage-${index}`}`]);
    total += runs;
  }
  if (total === 0) return undefined;
  const parts = [...byPlatform].map(([name, counts]) => `${name} (${counts.join(', ')})`);
  return `${total} RUN step${total === 1 ? '' : 's'} will run under QEMU emulation, several times slower than natively: ${parts.join('; ')}. ` +
    'Steps that only prepare files (compiling, downloading) can run natively in a stage FROM --platform=$BUILDPLATFORM, reading $TARGETARCH.';
}

/**
 * What part of a step reads the build context ('source "a.txt"',
 * '--mount=type=bind,...'), or undefined: heredocs, ADD of URLs and
 * --from copies and mounts do not.
 */
export function contextUse(command: Command): string | undefined {
  if (command.kind === 'COPY' || command.kind === 'ADD') {
    if (command.from !== undefined) return undefined;
    const heredocs = new Set(command.heredocs.map((h) => h.name));
    const local = command.sources.find((source) => {
      const heredoc = /^<<-?(["']?)(\w+)\1$/.exec(source);
      if (heredoc && heredocs.has(heredoc[2]!)) return false;
      return !(command.kind === 'ADD' && (isUrlSource(source) || isGitSource(source)));
    });
    return local === undefined ? undefined : `source "${local}"`;
  }
  if (command.kind === 'RUN') {
    const bind = command.mounts.find((m) => m.type === 'bind' && m.options.from === undefined);
    return bind && `--mount=type=bind${bind.options.source ? `,source=${bind.options.source}` : ''}`;
  }
  return undefined;
}

/** A step that reads the build context, in a build that has none: docker's "no build context" case. */
export function checkContextUse(command: Command, hasContext: boolean): void {
  const use = hasContext ? undefined : contextUse(command);
  if (use === undefined) return;
  throw new BuildStepError(
    `${command.kind} ${use} reads from the build context, and this build has none: its Dockerfile came from stdin (\`ribo build -\`). ` +
    'Give a context directory and read the Dockerfile from stdin with -f -, e.g. `ribo build -f - .`, or copy from a stage or image with --from.',
    command.location,
  );
}
