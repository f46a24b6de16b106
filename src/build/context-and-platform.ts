/**
 * Checks the engine makes before it carries a Dockerfile out: the platforms
 * its stages ask for, and which steps read the build context (for builds that
 * have none, like `ribo build -`).
 */
import type { Command, Stage } from '../dockerfile/commands.js';
import { formatPlatform, hostPlatform, parsePlatform, samePlatform } from '../dockerfile/index.js';
import { isGitSource, isUrlSource } from './add-source.js';
import { BuildStepError } from './errors.js';

/**
 * Until multi-platform builds exist, a needed stage may only ask for this
 * machine's platform (FROM --platform, after expansion and BuildKit's
 * normalisation): anything else would silently give an image for the wrong one.
 */
export function checkStagePlatforms(stages: readonly Stage[], needed: readonly number[]): void {
  const host = hostPlatform();
  for (const index of new Set(needed)) {
    const stage = stages[index]!;
    if (stage.platform === undefined || samePlatform(parsePlatform(stage.platform), host)) continue;
    throw new BuildStepError(
      `FROM --platform=${stage.platform} asks for a platform other than this machine's (${formatPlatform(host)}); multi-platform builds are not supported yet, ` +
      `ribo builds for the platform it runs on. Remove --platform from this FROM line, or use --platform=$BUILDPLATFORM or --platform=${formatPlatform(host)}.`,
      stage.location,
    );
  }
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
