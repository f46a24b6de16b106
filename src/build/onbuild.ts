import type { Command, SourceLocation } from '../dockerfile/commands.js';
import { parseDockerfile, toStages } from '../dockerfile/index.js';
import { BuildStepError } from './errors.js';

const FORBIDDEN = /^\s*(ONBUILD|FROM|MAINTAINER)\b/i;

/**
 * The ONBUILD triggers a base image carries (its config's OnBuild), as
 * commands to run at the start of the stage built on it, in order. They are
 * parsed like Dockerfile lines; a trigger that does not parse, or one Docker
 * forbids (FROM, ONBUILD, MAINTAINER), stops the build naming the base.
 */
export function onbuildCommands(triggers: readonly string[], base: string, location: SourceLocation, buildArgs: Record<string, string>): Command[] {
  const commands: Command[] = [];
  for (const trigger of triggers) {
    if (FORBIDDEN.test(trigger)) {
      throw new BuildStepError(`the base image ${base} has an ONBUILD trigger "${trigger}" that Docker does not allow (FROM, ONBUILD and MAINTAINER cannot be triggers). Rebuild ${base} without it.`, location);
    }
    let parsed;
    try {
      parsed = toStages(parseDockerfile(`FROM scratch\n${trigger}\n`, `${base} ONBUILD`), { buildArgs });
    } catch (error) {
      throw new BuildStepError(`the ONBUILD trigger "${trigger}" of the base image ${base} is not a valid instruction: ${(error as Error).message}`, location, { cause: error });
    }
    for (const command of parsed.stages[0]?.commands ?? []) {
      // Errors in a trigger point at the FROM line that pulled it in.
      commands.push({ ...command, original: command.original, location });
    }
  }
  return commands;
}
