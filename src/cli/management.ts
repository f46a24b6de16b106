/**
 * docker's management-command spellings (`ribo image ls`, `ribo container
 * rm`, `ribo builder prune`) as aliases: each names an existing command, so
 * there is one implementation of each. The words are rewritten before yargs
 * sees them.
 */
import { UsageError } from '../errors.js';
import { GLOBAL_VALUE_OPTIONS } from './commands/run.js';

/** Each group's subcommands, as the words of the ribo command they stand for. */
export const MANAGEMENT_COMMANDS: Record<string, Record<string, string[]>> = {
  image: {
    ls: ['images'], list: ['images'], rm: ['rmi'], remove: ['rmi'], inspect: ['inspect', '--type', 'image'], prune: ['prune'],
    tag: ['tag'], history: ['history'], save: ['save'], load: ['load'], pull: ['pull'], push: ['push'], import: ['import'], build: ['build'],
  },
  container: {
    ls: ['ps'], list: ['ps'], ps: ['ps'], rm: ['rm'], remove: ['rm'], inspect: ['inspect', '--type', 'container'], logs: ['logs'],
    stop: ['stop'], start: ['start'], restart: ['restart'], kill: ['kill'], exec: ['exec'], cp: ['cp'], run: ['run'], wait: ['wait'],
    port: ['port'], attach: ['attach'], create: ['create'], prune: ['container-prune'],
  },
  builder: { prune: ['prune'] },
};

/** Rewrites `GROUP SUB …` into the command it stands for; other command lines are returned as they are. */
export function expandManagementCommand(args: string[], commandExists: (name: string) => boolean): string[] {
  let start = 0;
  while (start < args.length && args[start]!.startsWith('-')) start += GLOBAL_VALUE_OPTIONS.includes(args[start]!) ? 2 : 1;
  const group = MANAGEMENT_COMMANDS[args[start] ?? ''];
  if (!group) return args;
  const sub = args[start + 1];
  if (sub === '--help' || sub === '-h') return args;
  const known = Object.keys(group).join(', ');
  if (sub === undefined) throw new UsageError(`ribo ${args[start]} needs a subcommand: ${known}. See \`ribo ${args[start]} --help\`.`);
  // `container prune` stands for a command ribo may have under that name.
  const target = Object.hasOwn(group, sub) ? group[sub]! : commandExists(`${args[start]}-${sub}`) ? [`${args[start]}-${sub}`] : undefined;
  if (!target) throw new UsageError(`ribo ${args[start]} has no subcommand "${sub}"; it has ${known}. See \`ribo ${args[start]} --help\`.`);
  return [...args.slice(0, start), ...target, ...args.slice(start + 2)];
}
