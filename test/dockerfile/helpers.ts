import { parseDockerfile, toStages, type Command, type Stage, type StageOptions } from '../../src/dockerfile/index.js';

/** Parse and interpret; returns the stages and warnings. */
export function stagesOf(text: string, opts: StageOptions = {}) {
  return toStages(parseDockerfile(text, 'Dockerfile'), opts);
}

/** The commands of the only (or last) stage of `FROM scratch\n` + body. */
export function commandsOf(body: string): Command[] {
  const { stages } = stagesOf(`FROM scratch\n${body}`);
  return (stages[stages.length - 1] as Stage).commands;
}

/** The command type whose kind union includes K (COPY and ADD share CopyCommand). */
type CommandOfKind<K extends Command['kind'], C = Command> = C extends { kind: infer CK } ? (K extends CK ? C : never) : never;

export function commandOf<K extends Command['kind']>(body: string, kind: K): CommandOfKind<K> {
  const cmd = commandsOf(body)[0];
  if (!cmd || cmd.kind !== kind) throw new Error(`expected a ${kind}, got ${cmd?.kind}`);
  return cmd as CommandOfKind<K>;
}

/** Run `fn` and return what it threw (fails the test if nothing was thrown). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, none was thrown');
}
