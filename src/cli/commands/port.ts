import { ContainerStore } from '../../run/containers.js';
import { formatPort } from '../../run/publish.js';
import { RiboError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import { storeRoot, type GlobalOptions } from '../session.js';

export class NoSuchPortError extends RiboError {}

/** `ribo port CONTAINER [PORT[/PROTO]]`: the published ports, as docker port prints them. */
export const portCommand: CommandModule = {
  name: 'port',
  usage: 'port <container> [port]',
  describe: 'List a container\'s published ports (or where one container port is published)',
  needsNamespace: false,
  builder: (y) =>
    y.positional('container', { type: 'string', describe: 'Container name or id' })
      .positional('port', { type: 'string', describe: 'A container port, e.g. 80 or 80/tcp' }),
  handler: async (argv, env) => {
    const containers = ContainerStore.ofStore(storeRoot(argv as GlobalOptions, env));
    const record = await containers.find(String(argv.container));
    let ports = record.plan.spec.ports ?? [];
    if (argv.port !== undefined) {
      const [port, protocol = 'tcp'] = String(argv.port).split('/');
      ports = ports.filter((p) => p.containerPort === Number(port) && p.protocol === protocol);
      if (ports.length === 0) throw new NoSuchPortError(`Container ${record.name} does not publish port ${port}/${protocol}; \`ribo port ${record.name}\` lists what it publishes.`);
      for (const p of ports) process.stdout.write(`${p.hostIp}:${p.hostPort}\n`);
      return 0;
    }
    for (const p of ports) process.stdout.write(`${formatPort(p)}\n`);
    return 0;
  },
};
