/**
 * The stage graph: which stages a target needs (through FROM <stage>,
 * COPY --from and RUN --mount from=), in which order, and which can run in
 * parallel.
 */
import type { Stage } from './commands.js';
import { DockerfileStageError } from './errors.js';
import { resolveArgValues } from './expand.js';
import { ShellLexer } from './shell-lexer.js';

export type StageReference = { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

export interface StageDependencies {
  index: number;
  name?: string;
  /** Stages this one reads from, ascending. */
  stages: number[];
  /** Images read by COPY --from / RUN --mount from= (not the FROM base). */
  images: string[];
}

export interface StagePlan {
  /** Index of the target stage. */
  target: number;
  /** Needed stages in a dependency-respecting order (each after what it reads). */
  order: number[];
  /** Needed stages grouped by depth: every stage of a group depends only on earlier groups. */
  groups: number[][];
  /** Dependencies of every stage, needed or not. */
  dependencies: StageDependencies[];
}

export interface PlanOptions {
  /** --build-arg values, used to expand `--from=$VAR` the way ARG would. */
  buildArgs?: Readonly<Record<string, string>>;
}

export function stageLabel(stage: Pick<Stage, 'index' | 'name'>): string {
  return stage.name ?? `stage-${stage.index}`;
}

/** Resolve a --from value: a stage name (any position), a stage index, or an image. */
export function resolveFrom(stages: readonly Stage[], from: string): StageReference {
  const byName = stages.find((s) => s.name !== undefined && s.name === from.toLowerCase());
  if (byName) return { kind: 'stage', index: byName.index };
  if (/^\d+$/.test(from)) {
    const index = Number(from);
    if (index >= stages.length) throw new DockerfileStageError(`invalid stage index ${from}`, undefined, `there are only ${stages.length} stages (0-${stages.length - 1})`);
    return { kind: 'stage', index };
  }
  return { kind: 'image', ref: from };
}

/** The --from references of a stage, expanded with the ARG/ENV values known before the build. */
function stageDependencies(stages: readonly Stage[], stage: Stage, buildArgs: Readonly<Record<string, string>>): StageDependencies {
  const env = new Map<string, string>();
  const stageDeps = new Set<number>();
  const images = new Set<string>();
  if (stage.base.kind === 'stage') stageDeps.add(stage.base.index);
  const add = (raw: string, cmdLocation: Stage['location'], escapeToken: string | undefined) => {
    let from: string;
    try {
      from = new ShellLexer({ escapeToken: escapeToken ?? '\\' }).processWord(raw, env);
    } catch {
      from = raw;
    }
    let ref: StageReference;
    try {
      ref = resolveFrom(stages, from);
    } catch (err) {
      if (err instanceof DockerfileStageError) throw new DockerfileStageError(err.reason, { file: cmdLocation.file, line: cmdLocation.startLine }, err.hint);
      throw err;
    }
    if (ref.kind === 'stage') stageDeps.add(ref.index);
    else images.add(ref.ref);
  };
  for (const cmd of stage.commands) {
    if (cmd.kind === 'ARG') {
      try {
        for (const { key, value } of resolveArgValues(cmd, env, buildArgs)) if (value !== undefined) env.set(key, value);
      } catch { /* reported when the stage is built */ }
    } else if (cmd.kind === 'ENV') {
      const lexer = new ShellLexer({ escapeToken: cmd.escapeToken ?? '\\' });
      try {
        const values = cmd.pairs.map((p) => [lexer.processWord(p.key, env), lexer.processWord(p.value, env)] as const);
        for (const [k, v] of values) env.set(k, v);
      } catch { /* reported when the stage is built */ }
    } else if (cmd.kind === 'COPY' && cmd.from !== undefined) {
      add(cmd.from, cmd.location, cmd.escapeToken);
    } else if (cmd.kind === 'RUN') {
      for (const mount of cmd.mounts) if (mount.options.from !== undefined) add(mount.options.from, cmd.location, cmd.escapeToken);
    }
  }
  return { index: stage.index, name: stage.name, stages: [...stageDeps].sort((a, b) => a - b), images: [...images] };
}

function findCycle(deps: readonly StageDependencies[]): number | undefined {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number): boolean => {
    if (state.get(i) === 'done') return false;
    if (state.get(i) === 'visiting') return true;
    state.set(i, 'visiting');
    for (const d of deps[i]!.stages) if (visit(d)) return true;
    state.set(i, 'done');
    return false;
  };
  for (const d of deps) if (visit(d.index)) return d.index;
  return undefined;
}

/** Pick the target stage: by name (case-insensitive), by index, or the last stage. */
export function findTarget(stages: readonly Stage[], target?: string | number): number {
  if (target === undefined || target === '') return stages.length - 1;
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0 || target >= stages.length) throw new DockerfileStageError(`target stage index ${target} could not be found`);
    return target;
  }
  const found = stages.find((s) => s.name === target.toLowerCase());
  if (!found) {
    const names = stages.map((s) => s.name).filter((n): n is string => n !== undefined);
    throw new DockerfileStageError(`target stage "${target}" could not be found`, undefined,
      names.length ? `the named stages are: ${names.join(', ')}` : 'no stage has a name; add "AS <name>" to a FROM line');
  }
  return found.index;
}

/** Plan the build of `target`: needed stages, order and parallel groups. Throws on cycles. */
export function planStages(stages: readonly Stage[], target?: string | number, opts: PlanOptions = {}): StagePlan {
  if (stages.length === 0) throw new DockerfileStageError('dockerfile contains no stages to build', undefined, 'add a FROM instruction');
  const dependencies = stages.map((s) => stageDependencies(stages, s, opts.buildArgs ?? {}));
  const cyclic = findCycle(dependencies);
  if (cyclic !== undefined) {
    const stage = stages[cyclic]!;
    throw new DockerfileStageError(`circular dependency detected on stage: ${stageLabel(stage)}`,
      { file: stage.location.file, line: stage.location.startLine, sourceLine: stage.original },
      'a stage cannot COPY --from itself or from a stage that depends on it');
  }
  const targetIndex = findTarget(stages, target);
  const depth = new Map<number, number>();
  const order: number[] = [];
  const visit = (i: number): number => {
    const known = depth.get(i);
    if (known !== undefined) return known;
    let d = 0;
    for (const dep of dependencies[i]!.stages) d = Math.max(d, visit(dep) + 1);
    depth.set(i, d);
    order.push(i);
    return d;
  };
  visit(targetIndex);
  const groups: number[][] = [];
  for (const [i, d] of depth) (groups[d] ??= []).push(i);
  for (const g of groups) g.sort((a, b) => a - b);
  order.sort((a, b) => depth.get(a)! - depth.get(b)! || a - b);
  return { target: targetIndex, order, groups, dependencies };
}
