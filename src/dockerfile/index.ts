/**
 * The Dockerfile front end: parse, interpret into stages, expand words, plan
 * the stage graph, and read .dockerignore. Pure code; the only I/O is reading
 * the Dockerfile, ignore files and the build context.
 */
import { readFile } from 'node:fs/promises';
import type { Stage, Warning } from './commands.js';
import { DockerfileNotFoundError } from './errors.js';
import { parseRaw, type RawParse } from './parser.js';
import { planStages, type StagePlan } from './plan.js';
import { toStages as interpretStages, type StageOptions, type StagesResult } from './stages.js';

export type * from './commands.js';
export type { RawNode, RawArg } from './node.js';
export type { Directives } from './directives.js';
export type { StageOptions, StagesResult } from './stages.js';
export type { StagePlan, StageDependencies, StageReference, PlanOptions } from './plan.js';
export * from './errors.js';
export { dumpNodes } from './node.js';
export { expandCommand, resolveArgValues, quoteLiteral, type ExpandOptions } from './expand.js';
export { ShellLexer, type EnvSource, type LexerOptions, type ExpansionResult } from './shell-lexer.js';
export { planStages, resolveFrom, findTarget } from './plan.js';
export { hostPlatform, parsePlatform, formatPlatform, samePlatform, type Platform } from './platform.js';
export { loadIgnoreMatcher, createIgnoreMatcher, readIgnorePatterns, contextFilter, walkContext, type IgnoreMatcher, type ContextFilter, type ContextEntry } from './dockerignore.js';

/** A parsed (not yet interpreted) Dockerfile. */
export type ParsedDockerfile = RawParse;

/** Parse Dockerfile text. `file` names the Dockerfile in messages and locations. */
export function parseDockerfile(text: string, file: string): ParsedDockerfile {
  return parseRaw(text, file);
}

/** Interpret a parsed Dockerfile into stages (see StageOptions). */
export function toStages(parsed: ParsedDockerfile, opts: StageOptions = {}): StagesResult {
  return interpretStages(parsed, opts);
}

/** Read and parse a Dockerfile; DockerfileNotFoundError names the path if it cannot be read. */
export async function loadDockerfile(path: string): Promise<ParsedDockerfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DockerfileNotFoundError(path, err);
  }
  return parseRaw(text, path);
}

/** Everything `ribo build --print` shows: stages, plan and warnings. */
export interface ResolvedBuild {
  file: string;
  syntax?: string;
  escapeToken: string;
  target: { index: number; name?: string };
  globalArgs: Record<string, string>;
  buildArgs: Record<string, string>;
  stages: Array<Stage & { needed: boolean; dependsOn: number[]; images: string[] }>;
  /** Needed stages in build order. */
  order: number[];
  /** Needed stages grouped so that each group only depends on earlier groups. */
  parallelGroups: number[][];
  warnings: Warning[];
}

/** Interpret and plan a parsed Dockerfile. */
export function resolveBuild(parsed: ParsedDockerfile, opts: StageOptions = {}): ResolvedBuild {
  const { stages, globalArgs, warnings } = interpretStages(parsed, opts);
  const plan: StagePlan = planStages(stages, opts.target, { buildArgs: opts.buildArgs });
  const needed = new Set(plan.order);
  const target = stages[plan.target]!;
  return {
    file: parsed.file,
    ...(parsed.directives.syntax !== undefined ? { syntax: parsed.directives.syntax } : {}),
    escapeToken: parsed.escapeToken,
    target: target.name !== undefined ? { index: target.index, name: target.name } : { index: target.index },
    globalArgs,
    buildArgs: { ...(opts.buildArgs ?? {}) },
    stages: stages.map((s) => ({
      ...s,
      needed: needed.has(s.index),
      dependsOn: plan.dependencies[s.index]!.stages,
      images: plan.dependencies[s.index]!.images,
    })),
    order: plan.order,
    parallelGroups: plan.groups,
    warnings,
  };
}

/** The resolved build as pretty-printed JSON, for `ribo build --print`. */
export function resolvedBuildJSON(parsed: ParsedDockerfile, opts: StageOptions = {}): string {
  return JSON.stringify(resolveBuild(parsed, opts), null, 2);
}
