/**
 * What a command line that yargs refused gets as its error: the unknown
 * command or flag named once, as typed, with the name ribo knows it by or a
 * close spelling. yargs' own messages ("Not enough non-option arguments",
 * "Unknown arguments: force-rm, forceRm") are only the fallback, because an
 * unknown `--flag VALUE` makes yargs take VALUE as the flag's and then miss
 * the positional that follows.
 */
import yargs from 'yargs';
import { UsageError } from '../errors.js';
import { editDistance } from '../dockerfile/suggest.js';
import type { CommandModule } from './command.js';
import { GLOBAL_VALUE_OPTIONS } from './commands/run.js';


/** docker commands ribo does not have, with where ribo does the like, if anywhere. */
const DOCKER_ONLY_COMMANDS: Record<string, string> = {
  top: '', stats: '', events: '', pause: '', unpause: '', rename: '', update: '', search: '',
  commit: '', export: '`ribo save` writes images, not containers', diff: '`ribo layers IMAGE` shows what each layer of an image changes',
  system: '`ribo info` and `ribo prune` do what docker system info and prune do', compose: '', swarm: '', service: '', stack: '', node: '',
  secret: '', config: '', context: '', plugin: '', trust: '', manifest: '', checkpoint: '', buildx: '`ribo build` is BuildKit-like already',
};

/** Flags of docker's commands that ribo does not implement (docs/unsupported.md). */
const DOCKER_ONLY_FLAGS: Record<string, string[]> = {
  run: [
    'blkio-weight', 'cpuset-mems', 'memory-swappiness', 'gpus',
    'ipc', 'pid', 'uts', 'link', 'log-driver', 'log-opt', 'health-cmd',
    'volumes-from', 'attach', 'sig-proxy', 'detach-keys', 'ip', 'mac-address', 'oom-kill-disable', 'device-cgroup-rule', 'storage-opt',
  ],
  build: ['squash', 'isolation', 'cpu-shares', 'memory', 'allow', 'builder', 'load', 'push', 'sbom', 'provenance'],
  ps: ['size'],
  exec: ['detach-keys', 'privileged'],
};

/** Other tools' names for flags ribo has under its own name. */
const FLAG_SYNONYMS: Record<string, string> = {
  net: 'network', tlsverify: 'tls-verify', insecure: 'tls-verify', dockerfile: 'file', 'cpu-quota': 'cpus', timeout: 'time',
  'memory-limit': 'memory', 'build-args': 'build-arg', tags: 'tag', 'env-files': 'env-file', 'expose-all': 'publish-all',
};

interface FlagTable {
  takesValue: Set<string>;
  known: Set<string>;
}

/** The flags a command declares (with aliases), read from its yargs builder. */
function flagTable(command: CommandModule | undefined): FlagTable {
  const y = yargs([]).option('root', { type: 'string' }).option('runtime', { type: 'string' }).option('storage-driver', { type: 'string' });
  const options = ((command ? command.builder(y) : y) as unknown as { getOptions: () => unknown }).getOptions() as { key: Record<string, unknown>; boolean: string[]; count: string[] };
  const known = new Set(Object.keys(options.key));
  known.add('help');
  const flags = new Set([...options.boolean, ...options.count, 'help', 'version']);
  return { known, takesValue: new Set([...known].filter((name) => !flags.has(name))) };
}

/** A flag's name as the table holds it: kebab-case, as yargs also accepts camelCase. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The unknown flags of a command's words, as typed; stops at "--" and, for run and exec, at the image or container. */
export function unknownFlags(words: string[], table: FlagTable, stopAtPositional: boolean): string[] {
  const unknown: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') break;
    if (!word.startsWith('-') || word === '-') {
      if (stopAtPositional) break;
      continue;
    }
    if (word.startsWith('--')) {
      const [name, value] = [word.slice(2).split('=')[0]!, word.includes('=')];
      const plain = kebab(name);
      const negated = plain.startsWith('no-') && table.known.has(plain.slice(3));
      if (!table.known.has(plain) && !negated) unknown.push(`--${name}`);
      else if (!value && !negated && table.takesValue.has(plain)) i += 1;
      continue;
    }
    // A cluster of short flags (-it), the last of which may take a value (-p80 or -p 80).
    for (let at = 1; at < word.length; at++) {
      const letter = word[at]!;
      if (!table.known.has(letter)) {
        unknown.push(`-${letter}`);
        break;
      }
      if (table.takesValue.has(letter)) {
        if (at === word.length - 1) i += 1;
        break;
      }
    }
  }
  return unknown;
}

/** A close spelling: an edit distance of at most 2, and at most a third of the word (a typo, not another word). */
export function closeSpelling(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const allowed = Math.min(2, Math.max(1, Math.floor(word.length / 3)));
  return bestDistance > 0 && bestDistance <= allowed ? best : undefined;
}

function unknownCommandMessage(word: string, commands: CommandModule[]): string {
  if (Object.hasOwn(DOCKER_ONLY_COMMANDS, word)) {
    const hint = DOCKER_ONLY_COMMANDS[word];
    return `ribo has no "${word}" command (docker has one; ribo does not implement it)${hint ? `; ${hint}` : ''}.`;
  }
  const close = closeSpelling(word, commands.filter((c) => c.describe !== false).map((c) => c.name));
  return `ribo has no "${word}" command.${close ? ` Did you mean "${close}"?` : ''}`;
}

function unknownFlagMessage(commandName: string | undefined, flag: string, table: FlagTable): string {
  const where = commandName ? `ribo ${commandName}` : 'ribo';
  const name = kebab(flag.replace(/^-+/, ''));
  const synonym = FLAG_SYNONYMS[name];
  if (synonym && synonym !== name && table.known.has(synonym)) return `${where} has no flag ${flag}; ribo calls it --${synonym}.`;
  const longNames = [...table.known].filter((known) => known.length > 1 && known !== 'version');
  const close = flag.startsWith('--') ? closeSpelling(name, longNames) : undefined;
  if (commandName && DOCKER_ONLY_FLAGS[commandName]?.includes(name)) return `${where} has no flag ${flag}: docker's ${flag} is not implemented (see docs/unsupported.md).`;
  return `${where} has no flag ${flag}${close ? `. Did you mean --${close}?` : ' (docs/cli.md lists the flags ribo supports).'}`;
}

/**
 * The error for a command line yargs refused with `yargsMessage`. `args` are
 * the words as typed; `stopsAtPositional` names the commands whose words
 * after the first positional are the container's (run, exec).
 */
export function usageFailure(args: string[], commands: CommandModule[], yargsMessage: string, stopsAtPositional: (name: string) => boolean): UsageError {
  const globals = flagTable(undefined);
  let start = 0;
  while (start < args.length && args[start]!.startsWith('-')) start += GLOBAL_VALUE_OPTIONS.includes(args[start]!) ? 2 : 1;
  const globalUnknown = unknownFlags(args.slice(0, start), globals, false);
  if (globalUnknown.length > 0) return new UsageError(withHelp(unknownFlagMessage(undefined, globalUnknown[0]!, globals), undefined));
  const word = args[start];
  if (word === undefined) return new UsageError(withHelp('Name a command.', undefined));
  const command = commands.find((c) => c.name === word);
  if (!command) return new UsageError(withHelp(unknownCommandMessage(word, commands), undefined));
  const table = flagTable(command);
  const unknown = unknownFlags(args.slice(start + 1), table, stopsAtPositional(command.name));
  if (unknown.length > 0) {
    const rest = unknown.length > 1 ? ` (also unknown: ${unknown.slice(1).join(', ')})` : '';
    return new UsageError(withHelp(unknownFlagMessage(command.name, unknown[0]!, table).replace(/\.$/, `${rest}.`), command.name));
  }
  return new UsageError(withHelp(yargsSentence(yargsMessage, command), command.name));
}

/** yargs' messages, as sentences naming the command's usage or the flag. */
function yargsSentence(message: string, command: CommandModule): string {
  if (/^Not enough non-option arguments/.test(message)) return `ribo ${command.name} needs more arguments: ribo ${command.usage}.`;
  if (/^(Too many non-option arguments|Unknown arguments?:)/.test(message)) return `ribo ${command.name} takes fewer arguments: ribo ${command.usage}.`;
  const invalid = /Argument: (\S+), Given: (.*), Choices: (.*)$/m.exec(message);
  if (invalid) return `--${invalid[1]} ${invalid[2]}: choose one of ${invalid[3]}.`;
  const noValue = /^Not enough arguments following: (\S+)/.exec(message);
  if (noValue) return `--${noValue[1]} needs a value.`;
  return /[.?!]$/.test(message) ? message : `${message}.`;
}

function withHelp(sentence: string, commandName: string | undefined): string {
  return `${sentence} See \`ribo ${commandName ? `${commandName} ` : ''}--help\`.`;
}
