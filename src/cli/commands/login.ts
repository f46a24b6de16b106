import { RiboError, UsageError } from '../../errors.js';
import { RegistryClient, registryOfLoginArg, type Credentials } from '../../registry/index.js';
import { HttpTransport } from '../../registry/http.js';
import type { CommandModule } from '../command.js';
import { credentialStore, withRegistryOptions } from '../registry-options.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          finish();
          return resolve(value);
        }
        if (char === '\u0003') {
          finish();
          return reject(new RiboError('Login cancelled.', { exitCode: 130 }));
        }
        value = char === '\u007f' ? value.slice(0, -1) : value + char;
      }
    };
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export const loginCommand: CommandModule = {
  name: 'login',
  usage: 'login <registry>',
  describe: 'Log in to a registry and keep the credentials',
  needsNamespace: false,
  builder: (y) =>
    withRegistryOptions(
      y
        .positional('registry', { type: 'string', describe: 'HOST[:PORT] of the registry (docker.io for Docker Hub)' })
        .option('username', { alias: 'u', type: 'string', describe: 'User name' })
        .option('password', { alias: 'p', type: 'string', describe: 'Password (visible to other users in the process list: prefer --password-stdin)' })
        .option('password-stdin', { type: 'boolean', default: false, describe: 'Read the password from standard input' }),
    ),
  handler: async (argv, env) => {
    const registry = registryOfLoginArg(String(argv.registry));
    const username = argv.username === undefined ? undefined : String(argv.username);
    if (!username) throw new UsageError(`Give the user name with -u USER, e.g. ribo login -u alice --password-stdin ${registry}.`);
    let password: string;
    if (argv.passwordStdin) password = await readStdin();
    else if (argv.password !== undefined) password = String(argv.password);
    else if (process.stdin.isTTY) password = await promptHidden('Password: ');
    else throw new UsageError('Give the password with --password-stdin (or -p PASSWORD).');
    if (!password) throw new UsageError(`The password for ${username} at ${registry} is empty.`);
    const credentials: Credentials = { username, password };
    const store = credentialStore(argv, env);
    const transport = new HttpTransport({ verifyTls: argv.tlsVerify !== false });
    try {
      await new RegistryClient(registry, { credentials: store, tlsVerify: argv.tlsVerify !== false, credentialsOverride: credentials }, transport).verifyLogin();
    } finally {
      transport.close();
    }
    const file = await store.save(registry, credentials);
    process.stderr.write(`Login Succeeded: ${username} at ${registry} (credentials in ${file})\n`);
    return 0;
  },
};
