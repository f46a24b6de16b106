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
  return new StageReader(parsed, opts).read();
}

/** One pass over a parsed Dockerfile: the stages, the global ARGs in scope and the warnings found on the way. */
class StageReader {
  private readonly file: string;
  private readonly buildArgs: Record<string, string>;
  private readonly escapeToken: string;
  private readonly lexer: ShellLexer;
  private readonly check: ReturnType<typeof parseCheckDirective>;
  private readonly warnings: Warning[] = [];
  /** The platform ARGs BuildKit predefines. */
  private readonly predefined: Map<string, string>;
  /** What FROM lines and inherited stage ARGs can see. */
  private readonly globalEnv: Map<string, string>;
  private readonly declaredGlobals = new Set<string>();
  private readonly globalArgs: Record<string, string> = {};
  private readonly stages: Stage[] = [];
  /** ARG keys declared per stage (index -1: global), for the unused --build-arg warning. */
  private readonly declared = new Map<number, Set<string>>([[-1, new Set()]]);

  constructor(private readonly parsed: RawParse, private readonly opts: StageOptions) {
    this.file = parsed.file;
    this.buildArgs = opts.buildArgs ?? {};
    this.escapeToken = parsed.escapeToken;
    this.lexer = new ShellLexer({ escapeToken: this.escapeToken });
    this.check = this.checkDirective();
    const targetPlatform: Platform = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
    const buildPlatform: Platform = opts.buildPlatform ? parsePlatform(opts.buildPlatform) : hostPlatform();
    this.predefined = platformArgs(targetPlatform, buildPlatform);
    this.globalEnv = new Map(this.predefined);
  }

  read(): StagesResult {
    const { parsed, file, check, warnings } = this;
    for (const w of parsed.warnings) if (!check.skip.has('all') && !check.skip.has(w.rule.toLowerCase())) warnings.push(w);
    for (const { node, message } of inconsistentCasing(parsed.nodes)) this.warn('ConsistentInstructionCasing', message, node);
    for (const node of parsed.nodes) this.readNode(node);
    if (this.stages.length === 0) {
      throw new DockerfileStageError('dockerfile contains no stages to build', { file, line: 1, sourceLine: parsed.lines[0] }, 'add a FROM instruction');
    }
    let plan;
    try {
      findTarget(this.stages, this.opts.target);
      plan = planStages(this.stages, this.opts.target, { buildArgs: this.buildArgs });
    } catch (err) {
      if (err instanceof DockerfileStageError && !err.position) throw new DockerfileStageError(err.reason, { file, line: 1 }, err.hint);
      throw err;
    }
    this.warnUnusedBuildArgs(plan.order);
    if (check.error && warnings.length > 0) {
      const first = warnings[0]!;
      const line = first.location?.startLine ?? 1;
      throw new DockerfileInstructionError(`lint violation found (check=error=true): ${first.rule}: ${first.message}` +
        (warnings.length > 1 ? ` (and ${warnings.length - 1} more)` : ''), { file, line, sourceLine: parsed.lines[line - 1] },
        'fix the warning, or skip the rule with "# check=skip=<rule>"');
    }
    return { stages: this.stages, globalArgs: this.globalArgs, target: plan.target, warnings };
  }

  private checkDirective(): ReturnType<typeof parseCheckDirective> {
    try {
      return parseCheckDirective(this.parsed.directives.check);
    } catch (err) {
      const line = this.parsed.directives.lines.check ?? 1;
      throw new DockerfileInstructionError((err as Error).message, { file: this.file, line, sourceLine: this.parsed.lines[line - 1] }, (err as LocalSyntaxError).hint);
    }
  }

  private fail(err: unknown, node: RawNode): never {
    if (err instanceof LocalSyntaxError) {
      throw new DockerfileInstructionError(err.message,
        { file: this.file, line: node.startLine, endLine: node.endLine, column: 1, sourceLine: this.parsed.lines[node.startLine - 1] }, err.hint);
    }
    throw err;
  }

  private warn(rule: string, message: string, node?: RawNode): void {
    if (this.check.skip.has('all') || this.check.skip.has(rule.toLowerCase())) return;
    this.warnings.push(node ? { rule, message, location: locationOf(node, this.file) } : { rule, message });
  }

  private hasBuildArg(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.buildArgs, key);
  }

  private readNode(node: RawNode): void {
    const { stages } = this;
    const current = stages[stages.length - 1];
    if (node.keyword === 'from') {
      try {
        stages.push(this.parseFrom(node));
      } catch (err) {
        this.fail(err, node);
      }
      this.declared.set(stages.length - 1, new Set());
      return;
    }
    let cmd: Command;
    const stageWarnings: Array<[string, string]> = [];
    try {
      cmd = toCommand(node, { file: this.file, escapeToken: this.escapeToken, warn: (rule, message) => stageWarnings.push([rule, message]) });
      if (!current && cmd.kind !== 'ARG') throw new LocalSyntaxError('no build stage in current context', 'start the Dockerfile with a FROM instruction (only ARG may come before it)');
    } catch (err) {
      return this.fail(err, node);
    }
    for (const [rule, message] of stageWarnings) this.warn(rule, message, node);
    if (!current) {
      this.declareGlobals(cmd as ArgCommand, node);
      return;
    }
    this.checkStageCommand(current, cmd, node);
    if (cmd.kind === 'ARG') this.inheritGlobals(cmd, stages.length - 1);
    current.commands.push(cmd);
  }

  private warnUnusedBuildArgs(order: number[]): void {
    const consumed = new Set<string>([...this.declared.get(-1)!, ...PROXY_ARGS, ...this.predefined.keys()]);
    for (const index of order) for (const key of this.declared.get(index) ?? []) consumed.add(key);
    const unused = Object.keys(this.buildArgs).filter((k) => !consumed.has(k)).sort();
    if (unused.length > 0) this.warn('UnusedBuildArg', `One or more build-args [${unused.join(' ')}] were not consumed`);
  }

  private declareGlobals(cmd: ArgCommand, node: RawNode): void {
    for (const { key, value } of cmd.args) {
      this.declared.get(-1)!.add(key);
      this.declaredGlobals.add(key);
      let resolved: string | undefined;
      if (this.hasBuildArg(key)) resolved = this.buildArgs[key];
      else if (value !== undefined) {
        try {
          resolved = this.lexer.processWord(value, this.globalEnv);
        } catch (err) {
          this.fail(err, node);
        }
      } else resolved = this.globalEnv.get(key);
      if (resolved !== undefined) {
        this.globalEnv.set(key, resolved);
        this.globalArgs[key] = resolved;
      }
      if (looksLikeSecret(key)) this.warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (ARG "${key}")`, node);
    }
  }

  /** A stage ARG without default takes the global value, unless a --build-arg overrides it. */
  private inheritGlobals(cmd: ArgCommand, stageIndex: number): void {
    for (const arg of cmd.args) {
      this.declared.get(stageIndex)!.add(arg.key);
      if (arg.value !== undefined || this.hasBuildArg(arg.key)) continue;
      const inherited = this.globalEnv.get(arg.key);
      if (inherited !== undefined) {
        arg.value = quoteLiteral(inherited, this.escapeToken);
        arg.inherited = true;
      }
    }
  }

  private checkStageCommand(stage: Stage, cmd: Command, node: RawNode): void {
    const earlier = (kind: Command['kind']) => stage.commands.some((c) => c.kind === kind);
    const warn = (rule: string, message: string) => this.warn(rule, message, node);
    switch (cmd.kind) {
      case 'CMD':
      case 'ENTRYPOINT':
      case 'HEALTHCHECK':
        if (earlier(cmd.kind)) {
          warn('MultipleInstructionsDisallowed', `Multiple ${cmd.kind} instructions should not be used in the same stage because only the last one will be used`);
        }
        if (cmd.kind !== 'HEALTHCHECK' && cmd.line.form === 'shell' && !earlier('SHELL')) {
          warn('JSONArgsRecommended', `JSON arguments recommended for ${cmd.kind} to prevent unintended behavior related to OS signals`);
        }
        break;
      case 'WORKDIR':
        if (!cmd.path.startsWith('/') && !cmd.path.startsWith('$') && !earlier('WORKDIR')) {
          warn('WorkdirRelativePath', `Relative workdir '${cmd.path}' can have unexpected results if the base image changes`);
        }
        break;
      case 'ENV':
        for (const { key } of cmd.pairs) {
          if (looksLikeSecret(key)) warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (ENV "${key}")`);
        }
        break;
      case 'ARG':
        for (const { key } of cmd.args) {
          if (looksLikeSecret(key)) warn('SecretsUsedInArgOrEnv', `Do not use ARG or ENV instructions for sensitive data (ARG "${key}")`);
        }
        break;
      case 'EXPOSE':
        for (const port of cmd.ports) for (const p of exposeProblems(port)) warn(p.rule, p.message);
        break;
      default:
        break;
    }
  }

  private expandInFrom(text: string, node: RawNode): string {
    const result = this.lexer.process(text, this.globalEnv);
    for (const name of result.unmatched) {
      if (!this.declaredGlobals.has(name)) this.warn('UndefinedArgInFrom', `FROM argument '${name}' is not declared`, node);
    }
    return result.result;
  }

  private parseFrom(node: RawNode): Stage {
    const flags = parseFlags(node.flags, { platform: 'string' });
    const args = stringArgs(node);
    const name = this.stageName(node, args);
    const baseName = this.expandInFrom(args[0]!, node);
    if (baseName === '') {
      throw new LocalSyntaxError(`base name (${args[0]}) should not be blank`, 'give the ARG used in FROM a default value or pass --build-arg');
    }
    const platform = this.fromPlatform(node, flags.string('platform'), name);
    let base: StageBase;
    const earlierStage = this.stages.find((s) => s.name !== undefined && s.name === baseName.toLowerCase());
    if (baseName === 'scratch') base = { kind: 'scratch' };
    else if (earlierStage) base = { kind: 'stage', index: earlierStage.index };
    else base = { kind: 'image', ref: baseName };

    const stage: Stage = { index: this.stages.length, base, location: locationOf(node, this.file), commands: [], original: node.original };
    if (name !== undefined) stage.name = name;
    if (platform !== undefined) stage.platform = platform;
    return stage;
  }

  /** The stage's name from `FROM IMAGE AS NAME` (lowercased), checked as BuildKit checks it. */
  private stageName(node: RawNode, args: string[]): string | undefined {
    if (args.length === 1) return undefined;
    if (args.length !== 3 || args[1]!.toLowerCase() !== 'as') {
      throw new LocalSyntaxError('FROM requires either one or three arguments', 'write "FROM <image> [AS <name>]"');
    }
    const written = args[2]!;
    const name = written.toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw new LocalSyntaxError(`invalid name for build stage: "${written}", name can't start with a number or contain symbols`,
        'stage names start with a letter and use only letters, digits, "-", "_" and "."');
    }
    if (written !== name) this.warn('StageNameCasing', `Stage name '${written}' should be lowercase`, node);
    const fromUpper = node.keywordAsWritten === node.keywordAsWritten.toUpperCase();
    const asUpper = args[1] === args[1]!.toUpperCase();
    if (fromUpper !== asUpper) this.warn('FromAsCasing', `'${args[1]}' and '${node.keywordAsWritten}' keywords' casing do not match`, node);
    if (RESERVED_STAGE_NAMES.has(name)) this.warn('ReservedStageName', `'${name}' is reserved and should not be used as a stage name`, node);
    if (this.stages.some((s) => s.name === name)) {
      throw new LocalSyntaxError(`Duplicate stage name "${name}", stage names should be unique`, 'rename one of the stages');
    }
    return name;
  }

  /** FROM --platform, expanded, with BuildKit's warnings about its value. */
  private fromPlatform(node: RawNode, platformFlag: string | undefined, name: string | undefined): string | undefined {
    if (platformFlag === undefined) return undefined;
    if (/^\$(\{TARGETPLATFORM\}|TARGETPLATFORM)$/.test(platformFlag)) {
      this.warn('RedundantTargetPlatform', 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior', node);
    } else if (!platformFlag.includes('$')) {
      const p = parsePlatform(platformFlag);
      if (!name || (!name.includes(p.os) && !name.includes(p.architecture))) {
        this.warn('FromPlatformFlagConstDisallowed', `FROM --platform flag should not use constant value "${platformFlag}"`, node);
      }
    }
    return this.expandInFrom(platformFlag, node) || undefined;
  }
}

export { KNOWN_INSTRUCTIONS, unknownInstruction };
