import { readFileSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { RUNTIME_NAMES } from '../../runtime/oci-runtime.js';
import { findExecutable } from '../../files/executables.js';
import type { CommandModule } from '../command.js';
import { compileTemplate } from '../template.js';

/** ribo's version, from the package.json beside bin/ (also beside the bundle's dist/). */
export function riboVersion(): string {
  let dir = path.dirname(realpathSync(process.argv[1] ?? '.'));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ribo' && pkg.version) return pkg.version;
    } catch {
      // not here: look one level up
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

async function runtimeVersion(name: string): Promise<string | undefined> {
  const binary = await findExecutable(name);
  if (!binary) return undefined;
  const result = await execa(binary, ['--version'], { reject: false });
  return /version\s+(\S+)/.exec(result.stdout)?.[1] ?? result.stdout.split('\n')[0];
}

/** `ribo version`: like `docker version`, ribo's own version and those of what it runs on. */
export const versionCommand: CommandModule = {
  name: 'version',
  usage: 'version',
  describe: 'Show the versions of ribo, Node.js and the OCI runtimes',
  needsNamespace: false,
  builder: (y) => y.option('format', { alias: 'f', type: 'string', describe: 'A Go template ({{.Version}}, {{json .}})' }),
  handler: async (argv) => {
    const runtimes: Record<string, string> = {};
    for (const name of RUNTIME_NAMES) {
      const version = await runtimeVersion(name);
      if (version) runtimes[name] = version;
    }
    const info = { Version: riboVersion(), NodeVersion: process.version, Os: os.platform(), Arch: process.arch, KernelVersion: os.release(), Runtimes: runtimes };
    if (argv.format !== undefined) {
      process.stdout.write(`${compileTemplate(String(argv.format)).render(info)}\n`);
      return 0;
    }
    const lines = [
      `Version:        ${info.Version}`,
      `Node version:   ${info.NodeVersion}`,
      `OS/Arch:        ${info.Os}/${info.Arch}`,
      `Kernel version: ${info.KernelVersion}`,
      ...Object.entries(runtimes).map(([name, version]) => `${`${name}:`.padEnd(16)}${version}`),
    ];
    process.stdout.write(`ribo\n${lines.map((line) => ` ${line}`).join('\n')}\n`);
    return 0;
  },
};
