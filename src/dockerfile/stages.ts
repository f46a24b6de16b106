/**
 * Raw nodes to build stages: global ARGs, FROM lines (expanded with global
 * ARGs and --build-arg values), ARG scoping, and the warnings BuildKit's checks
 * produce at this level.
 */
import type { ArgCommand, Command, Stage, StageBase, Warning } from './commands.js';
import { inconsistentCasing, exposeProblems, looksLikeSecret } from './checks.js';
import { parseCheckDirective } from './directives.js';
import { DockerfileInstructionError, DockerfileStageError, LocalSyntaxError } from './errors.js';
import { quoteLiteral } from './expand.js';
import { parseFlags } from './flags.js';
import { locationOf, toCommand, unknownInstruction, KNOWN_INSTRUCTIONS } from './instructions.js';
import { stringArgs, type RawNode } from './node.js';
import type { RawParse } from './parser.js';
import { findTarget, planStages } from './plan.js';
import { hostPlatform, parsePlatform, platformArgs, PROXY_ARGS, type Platform } from './platform.js';
import { ShellLexer } from './shell-lexer.js';

export interface StageOptions {
  buildArgs?: Record<string, string>;
  /** Name (or index) of the stage to build; defaults to the last one. */
  target?: string;
  /** Target platform ("linux/arm64"); defaults to the host's. */
  platform?: string;
  /** Build platform; defaults to the host's. */
  buildPlatform?: string;
}

export interface StagesResult {
  stages: Stage[];
  /** Global ARGs (declared before the first FROM) that have a value, after --build-arg. */
  globalArgs: Record<string, string>;
  /** Index of the target stage. */
  target: number;
  warnings: Warning[];
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const RESERVED_STAGE_NAMES = new Set(['scratch', 'context']);

/** Interprets a parsed Dockerfile into typed stages. Throws DockerfileError subclasses. */
export function toStages(parsed: RawParse, opts: StageOptions = {}): StagesResult {
  const file = parsed.file;
  const buildArgs = opts.buildArgs ?? {};
  const hasBuildArg = (key: string) => Object.prototype.hasOwnProperty.call(buildArgs, key);
  const escapeToken = parsed.escapeToken;
  const lexer = new ShellLexer({ escapeToken });

  const fail = (err: unknown, node: RawNode): never => {
    if (err instanceof LocalSyntaxError) {
      throw new DockerfileInstructionError(err.message,
        { file, line: node.startLine, endLine: node.endLine, column: 1, sourceLine: parsed.lines[node.startLine - 1] }, err.hint);
    }
    throw err;
  };

  let check: ReturnType<typeof parseCheckDirective>;
  try {
    check = parseCheckDirective(parsed.directives.check);
  } catch (err) {
    const line = parsed.directives.lines.check ?? 1;
    throw new DockerfileInstructionError((err as Error).message, { file, line, sourceLine: parsed.lines[line - 1] }, (err as LocalSyntaxError).hint);
  }
  const warnings: Warning[] = [];
  const warn = (rule: string, message: string, node?: RawNode) => {
    if (check.skip.has('all') || check.skip.has(rule.toLowerCase())) return;
    warnings.push(node ? { rule, message, location: locationOf(node, file) } : { rule, message });
  };
  for (const w of parsed.warnings) if (!check.skip.has('all') && !check.skip.has(w.rule.toLowerCase())) warnings.push(w);
  for (const { node, message } of inconsistentCasing(parsed.nodes)) warn('ConsistentInstructionCasing', message, node);

  const targetPlatform: Platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  const buildPlatform: Platform = opts.buildPlatform ? parsePlatform(opts.buildPlatform) : hostPlatform();
  const predefined = platformArgs(targetPlatform, buildPlatform);
  /** What FROM lines and inherited stage ARGs can see. */
  const globalEnv = new Map(predefined);
  const declaredGlobals = new Set<string>();
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  /** ARG keys declared per stage (index -1: global), for the unused --build-arg warning. */
  const declared = new Map<number, Set<string>>([[-1, new Set()]]);

  for (const node of parsed.nodes) {
    const current = stages[stages.length - 1];
    if (node.keyword === 'from') {
      try {
        stages.push(parseFrom(node));
      } catch (err) {
        fail(err, node);
      }
      declared.set(stages.length - 1, new Set());
      continue;
    }
    let cmd: Command;
    const stageWarnings: Array<[string, string]> = [];
    try {
      cmd = toCommand(node, { file, escapeToken, warn: (rule, message) => stageWarnings.push([rule, message]) });
      if (!current && cmd.kind !== 'ARG') throw new LocalSyntaxError('no build stage in current context', 'start the Dockerfile with a FROM instruction (only ARG may come before it)');
    } catch (err) {
      return fail(err, node);
    }
    for (const [rule, message] of stageWarnings) warn(rule, message, node);
    if (!current) {
      declareGlobals(cmd as ArgCommand, node);
      continue;
    }
    checkStageCommand(current, cmd, node);
    if (cmd.kind === 'ARG') inheritGlobals(cmd, stages.length - 1);
    current.commands.push(cmd);
  }

  if (stages.length === 0) {
    throw new DockerfileStageError('dockerfile contains no stages to build', { file, line: 1, sourceLine: parsed.lines[0] }, 'add a FROM instruction');
  }
  let plan;
  try {
    findTarget(stages, opts.target);
    plan = planStages(stages, opts.target, { buildArgs });
  } catch (err) {
    if (err instanceof DockerfileStageError && !err.position) throw new DockerfileStageError(err.reason, { file, line: 1 }, err.hint);
    throw err;
  }

  const consumed = new Set<string>([...declared.get(-1)!, ...PROXY_ARGS, ...predefined.keys()]);
  for (const index of plan.order) for (const key of declared.get(index) ?? []) consumed.add(key);
  const unused = Object.keys(buildArgs).filter((k) => !consumed.has(k)).sort();
  if (unused.length > 0) warn('UnusedBuildArg', `One or more build-args [${unused.join(' ')}] were not consumed`);

  if (check.error && warnings.length > 0) {
    const first = warnings[0]!;
    const line = first.location?.startLine ?? 1;
    throw new DockerfileInstructionError(`lint violation found (check=error=true): ${first.rule}: ${first.message}` +
      (warnings.length > 1 ? ` (and ${warnings.length - 1} more)` : ''), { file, line, sourceLine: parsed.lines[line - 1] },
      'fix the warning, or skip the rule with "# check=skip=<rule>"');
  }
  return { stages, globalArgs, target: plan.target, warnings };

  function declareGlobals(cmd: ArgCommand, node: RawNode): void {
    for (const { key, value } of cmd.args) {
      declared.get(-1)!.add(key);
      declaredGlobals.add(key);
      let resolved: string | undefined;
      if (hasBuildArg(key)) resolved = buildArgs[key];
      else if (value !== undefined) {
        try {
          resolved = lexer.processWord(value, globalEnv);
        } catch (err) {
          fail(err, node);
        }
      } else resolved = globalEnv.get(key);
      if (resolved !== undefined) {
        globalEnv.set(key, resolved);
        globalArgs[key] = resolved;
      }
      if (looksLikeSecret(key)) warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (ARG "${key}")`, node);
    }
  }

  /** A stage ARG without default takes the global value, unless a --build-arg overrides it. */
  function inheritGlobals(cmd: ArgCommand, stageIndex: number): void {
    for (const arg of cmd.args) {
      declared.get(stageIndex)!.add(arg.key);
      if (arg.value !== undefined || hasBuildArg(arg.key)) continue;
      const inherited = globalEnv.get(arg.key);
      if (inherited !== undefined) {
        arg.value = quoteLiteral(inherited, escapeToken);
        arg.inherited = true;
      }
    }
  }

  function checkStageCommand(stage: Stage, cmd: Command, node: RawNode): void {
    const earlier = (kind: Command['kind']) => stage.commands.some((c) => c.kind === kind);
    switch (cmd.kind) {
      case 'CMD':
      case 'ENTRYPOINT':
      case 'HEALTHCHECK':
        if (earlier(cmd.kind)) {
          warn('MultipleInstructionsDisallowed', `Multiple ${cmd.kind} instructions should not be used in the same stage because only the last one will be used`, node);
        }
        if (cmd.kind !== 'HEALTHCHECK' && cmd.line.form === 'shell' && !earlier('SHELL')) {
          warn('JSONArgsRecommended', `JSON arguments recommended for ${cmd.kind} to prevent unintended behavior related to OS signals`, node);
        }
        break;
      case 'WORKDIR':
        if (!cmd.path.startsWith('/') && !cmd.path.startsWith('$') && !earlier('WORKDIR')) {
          warn('WorkdirRelativePath', `Relative workdir '${cmd.path}' can have unexpected results if the base image changes`, node);
        }
        break;
      case 'ENV':
        for (const { key } of cmd.pairs) {
          if (looksLikeSecret(key)) warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (ENV "${key}")`, node);
        }
        break;
      case 'ARG':
        for (const { key } of cmd.args) {
          if (looksLikeSecret(key)) warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (ARG "${key}")`, node);
        }
        break;
      case 'EXPOSE':
        for (const port of cmd.ports) for (const p of exposeProblems(port)) warn(p.rule, p.message, node);
        break;
      default:
        break;
    }
  }

  function expandInFrom(text: string, node: RawNode): string {
    const result = lexer.process(text, globalEnv);
    for (const name of result.unmatched) {
      if (!declaredGlobals.has(name)) warn('UndefinedArgInFrom', `FROM argument '${name}' is not declared`, node);
    }
    return result.result;
  }

  function parseFrom(node: RawNode): Stage {
    const flags = parseFlags(node.flags, { platform: 'string' });
    const args = stringArgs(node);
    let name: string | undefined;
    if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
      const written = args[2]!;
      name = written.toLowerCase();
      if (!STAGE_NAME.test(name)) {
        throw new LocalSyntaxError(`invalid name for build stage: "${written}", name can't start with a number or contain symbols`,
          'stage names start with a letter and use only letters, digits, "-", "_" and "."');
      }
      if (written !== name) warn('StageNameCasing', `Stage name '${written}' should be lowercase`, node);
      const fromUpper = node.keywordAsWritten === node.keywordAsWritten.toUpperCase();
      const asUpper = args[1] === args[1]!.toUpperCase();
      if (fromUpper !== asUpper) warn('FromAsCasing', `'${args[1]}' and '${node.keywordAsWritten}' keywords' casing do not match`, node);
      if (RESERVED_STAGE_NAMES.has(name)) warn('ReservedStageName', `'${name}' is reserved and should not be used as a stage name`, node);
      if (stages.some((s) => s.name === name)) {
        throw new LocalSyntaxError(`Duplicate stage name "${name}", stage names should be unique`, 'rename one of the stages');
      }
    } else if (args.length !== 1) {
      throw new LocalSyntaxError('FROM requires either one or three arguments', 'write "FROM <image> [AS <name>]"');
    }

    const baseName = expandInFrom(args[0]!, node);
    if (baseName === '') {
      throw new LocalSyntaxError(`base name (${args[0]}) should not be blank`, 'give the ARG used in FROM a default value or pass --build-arg');
    }
    let platform: string | undefined;
    const platformFlag = flags.string('platform');
    if (platformFlag !== undefined) {
      if (/^\$(\{TARGETPLATFORM\}|TARGETPLATFORM)$/.test(platformFlag)) {
        warn('RedundantTargetPlatform', 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior', node);
      } else if (!platformFlag.includes('$')) {
        const p = parsePlatform(platformFlag);
        if (!name || (!name.includes(p.os) && !name.includes(p.architecture))) {
          warn('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value "${platformFlag}"`, node);
        }
      }
      platform = expandInFrom(platformFlag, node) || undefined;
    }

    let base: StageBase;
    const earlierStage = stages.find((s) => s.name !== undefined && s.name === baseName.toLowerCase());
    if (baseName === 'scratch') base = { kind: 'scratch' };
    else if (earlierStage) base = { kind: 'stage', index: earlierStage.index };
    else base = { kind: 'image', ref: baseName };

    const stage: Stage = { index: stages.length, base, location: locationOf(node, file), commands: [], original: node.original };
    if (name !== undefined) stage.name = name;
    if (platform !== undefined) stage.platform = platform;
    return stage;
  }
}

export { KNOWN_INSTRUCTIONS, unknownInstruction };
