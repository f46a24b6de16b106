/**
 * Raw nodes to typed commands (everything but FROM, which starts a stage):
 * flag validation, arity checks and the per-instruction warnings BuildKit's
 * checks produce.
 */
import type {
  Command, CommandLine, CopyCommand, Heredoc, HealthcheckCommand, RunCommand, RunMount, SourceLocation,
} from './commands.js';
import { parseGoDuration } from './duration.js';
import { LocalSyntaxError } from './errors.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { parseHeredocMarker } from './heredoc.js';
import { parseMount } from './mounts.js';
import { stringArgs, type RawNode } from './node.js';
import { closestMatch } from './suggest.js';

export interface InstructionContext {
  file: string;
  escapeToken: string;
  /** Record a check warning (rule name as in BuildKit). */
  warn(rule: string, message: string): void;
}

export const KNOWN_INSTRUCTIONS: readonly string[] = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
];

const atLeastOne = (name: string) => new LocalSyntaxError(`${name} requires at least one argument`);
const exactlyOne = (name: string) => new LocalSyntaxError(`${name} requires exactly one argument`);

export function locationOf(node: RawNode, file: string): SourceLocation {
  return { file, startLine: node.startLine, endLine: node.endLine };
}

/** Keyword not known: an error with a typo suggestion. */
export function unknownInstruction(keyword: string): LocalSyntaxError {
  const upper = keyword.toUpperCase();
  const guess = closestMatch(upper, KNOWN_INSTRUCTIONS);
  return new LocalSyntaxError(
    `unknown instruction: ${upper}${guess ? ` (did you mean ${guess}?)` : ''}`,
    guess ? `replace ${upper} with ${guess}` : `valid instructions are ${KNOWN_INSTRUCTIONS.join(', ')}`,
  );
}

function commandLine(node: RawNode, args: string[]): CommandLine {
  return node.json ? { form: 'exec', args } : { form: 'shell', command: args.join(' ') };
}

function keyValuePairs(node: RawNode, ctx: InstructionContext, name: 'ENV' | 'LABEL'): Array<{ key: string; value: string }> {
  const args = stringArgs(node);
  if (args.length === 0) throw atLeastOne(name);
  if (args.length % 3 !== 0) throw new LocalSyntaxError(`Bad input to ${name}, too many arguments`);
  const pairs: Array<{ key: string; value: string }> = [];
  for (let i = 0; i < args.length; i += 3) {
    if (args[i] === '') throw new LocalSyntaxError(`${name} names can not be blank`);
    if (args[i + 2] === '') {
      ctx.warn('LegacyKeyValueFormat', `"${name} key=value" should be used instead of legacy "${name} key value" format`);
    }
    pairs.push({ key: args[i]!, value: args[i + 1]! });
  }
  return pairs;
}

function heredocsOf(node: RawNode): Heredoc[] {
  return node.heredocs.map((h) => ({ ...h }));
}

function parseRun(node: RawNode, args: string[], flags: ParsedFlags, base: Base): RunCommand {
  const mounts: RunMount[] = flags.strings('mount').map(parseMount);
  const network = flags.string('network');
  if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
    throw new LocalSyntaxError(`network mode "${network}" not supported`, 'use --network=default, none or host');
  }
  const security = flags.string('security');
  if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
    throw new LocalSyntaxError(`security mode "${security}" not supported`, 'use --security=sandbox or insecure');
  }
  return {
    ...base, kind: 'RUN', line: commandLine(node, args), heredocs: heredocsOf(node), mounts,
    ...(network !== undefined ? { network } : {}),
    ...(security !== undefined ? { security } : {}),
  };
}

function parseCopy(node: RawNode, args: string[], flags: ParsedFlags, base: Base, kind: 'COPY' | 'ADD'): CopyCommand {
  if (args.length < 2) {
    throw new LocalSyntaxError(`${kind} requires at least two arguments, but only one was provided. Destination could not be determined.`,
      `write "${kind} <source>... <destination>"`);
  }
  const dest = args[args.length - 1]!;
  if (parseHeredocMarker(dest)) throw new LocalSyntaxError(`${kind} cannot accept a heredoc as a destination`);
  const command: CopyCommand = {
    ...base, kind, sources: args.slice(0, -1), dest, heredocs: heredocsOf(node),
    link: flags.bool('link') ?? false,
    parents: flags.bool('parents') ?? false,
    exclude: flags.strings('exclude'),
  };
  const chown = flags.string('chown');
  const chmod = flags.string('chmod');
  if (chown !== undefined) command.chown = chown;
  if (chmod !== undefined) command.chmod = chmod;
  if (kind === 'COPY') {
    const from = flags.string('from');
    if (from !== undefined) command.from = from;
  } else {
    const checksum = flags.string('checksum');
    if (checksum !== undefined) command.checksum = checksum;
    command.keepGitDir = flags.bool('keep-git-dir') ?? false;
    const unpack = flags.bool('unpack');
    if (unpack !== undefined) command.unpack = unpack;
  }
  return command;
}

function parseHealthcheck(node: RawNode, args: string[], words: readonly string[], base: Base): HealthcheckCommand {
  if (args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    if (rest.length > 0) throw new LocalSyntaxError('HEALTHCHECK NONE takes no arguments');
    return { ...base, kind: 'HEALTHCHECK', test: ['NONE'] };
  }
  const flags = parseFlags(words, {
    interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string',
  });
  if (type !== 'CMD') throw new LocalSyntaxError(`Unknown type "${type}" in HEALTHCHECK (try CMD)`, 'use HEALTHCHECK CMD <command> or HEALTHCHECK NONE');
  const command = node.json ? rest : rest.length ? [rest.join(' ')] : [];
  if (command.length === 0) throw new LocalSyntaxError('Missing command after HEALTHCHECK CMD');
  const result: HealthcheckCommand = { ...base, kind: 'HEALTHCHECK', test: [node.json ? 'CMD' : 'CMD-SHELL', ...command] };
  const durations = [['interval', 'interval'], ['timeout', 'timeout'], ['start-period', 'startPeriod'], ['start-interval', 'startInterval']] as const;
  for (const [flag, field] of durations) {
    const text = flags.string(flag);
    if (text === undefined || text === '') continue;
    const nanos = parseGoDuration(text);
    if (nanos !== 0 && nanos < 1e6) throw new LocalSyntaxError(`Interval "${flag}" cannot be less than 1ms`);
    result[field] = nanos;
  }
  const retries = flags.string('retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw new LocalSyntaxError(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`, 'use --retries=<number>');
    const n = Number.parseInt(retries, 10);
    if (n < 0) throw new LocalSyntaxError(`--retries cannot be negative (${n})`);
    result.retries = n;
  }
  return result;
}

function parseOnbuild(node: RawNode, base: Base): Command {
  const trigger = node.args[0];
  if (trigger === undefined || typeof trigger === 'string') throw atLeastOne('ONBUILD');
  const keyword = trigger.keyword.toUpperCase();
  if (keyword === 'ONBUILD') throw new LocalSyntaxError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
  if (keyword === 'MAINTAINER' || keyword === 'FROM') throw new LocalSyntaxError(`${keyword} isn't allowed as an ONBUILD trigger`);
  let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const heredoc of node.heredocs) expression += '\n' + heredoc.content + heredoc.name;
  return { ...base, kind: 'ONBUILD', expression };
}

type Base = { original: string; location: SourceLocation; escapeToken: string };

/** Interpret one non-FROM node. Throws LocalSyntaxError; the caller adds the location. */
export function toCommand(node: RawNode, ctx: InstructionContext): Command {
  const base: Base = { original: node.original, location: locationOf(node, ctx.file), escapeToken: ctx.escapeToken };
  const args = stringArgs(node);
  const noFlags = () => parseFlags(node.flags, {});
  switch (node.keyword) {
    case 'run':
      return parseRun(node, args, parseFlags(node.flags, { mount: 'strings', network: 'string', security: 'string' }), base);
    case 'copy':
      return parseCopy(node, args, parseFlags(node.flags, {
        from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings',
      }), base, 'COPY');
    case 'add':
      return parseCopy(node, args, parseFlags(node.flags, {
        chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings', unpack: 'bool',
      }), base, 'ADD');
    case 'env':
      noFlags();
      return { ...base, kind: 'ENV', pairs: keyValuePairs(node, ctx, 'ENV') };
    case 'label':
      noFlags();
      return { ...base, kind: 'LABEL', pairs: keyValuePairs(node, ctx, 'LABEL') };
    case 'arg': {
      noFlags();
      if (args.length === 0) throw atLeastOne('ARG');
      return {
        ...base, kind: 'ARG', args: args.map((word) => {
          const eq = word.indexOf('=');
          const key = eq < 0 ? word : word.slice(0, eq);
          if (key === '') throw new LocalSyntaxError('ARG names can not be blank');
          return eq < 0 ? { key } : { key, value: word.slice(eq + 1) };
        }),
      };
    }
    case 'cmd':
    case 'entrypoint': {
      noFlags();
      const kind = node.keyword === 'cmd' ? 'CMD' : 'ENTRYPOINT';
      return { ...base, kind, line: commandLine(node, args) };
    }
    case 'shell':
      noFlags();
      if (args.length === 0) throw atLeastOne('SHELL');
      if (!node.json) throw new LocalSyntaxError('SHELL requires the arguments to be in JSON form', 'write SHELL ["/bin/bash", "-c"]');
      return { ...base, kind: 'SHELL', shell: args };
    case 'expose':
      noFlags();
      if (args.length === 0) throw atLeastOne('EXPOSE');
      return { ...base, kind: 'EXPOSE', ports: args };
    case 'volume':
      noFlags();
      if (args.length === 0) throw atLeastOne('VOLUME');
      for (const path of args) if (path.trim() === '') throw new LocalSyntaxError('VOLUME specified can not be an empty string');
      return { ...base, kind: 'VOLUME', paths: args.map((p) => p.trim()) };
    case 'workdir':
      noFlags();
      if (args.length !== 1) throw exactlyOne('WORKDIR');
      return { ...base, kind: 'WORKDIR', path: args[0]! };
    case 'user':
      noFlags();
      if (args.length !== 1) throw exactlyOne('USER');
      return { ...base, kind: 'USER', user: args[0]! };
    case 'stopsignal':
      noFlags();
      if (args.length !== 1) throw exactlyOne('STOPSIGNAL');
      return { ...base, kind: 'STOPSIGNAL', signal: args[0]! };
    case 'maintainer':
      noFlags();
      if (args.length !== 1) throw exactlyOne('MAINTAINER');
      ctx.warn('MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label');
      return { ...base, kind: 'MAINTAINER', maintainer: args[0]! };
    case 'healthcheck':
      return parseHealthcheck(node, args, node.flags, base);
    case 'onbuild':
      noFlags();
      return parseOnbuild(node, base);
    default:
      throw unknownInstruction(node.keywordAsWritten);
  }
}
