import { describe, it, expect } from '@jest/globals';
import { expandCommand, resolveArgValues, quoteLiteral, ShellLexer, ExpansionError, type Command, type CopyCommand } from '../../src/dockerfile/index.js';
import { commandsOf, commandOf, thrown } from './helpers.js';

const env = { A: 'alpha', B: 'two words', U: '1000', D: '/data', PORTS: '80  443/tcp' };
const expand = <C extends Command>(c: C) => expandCommand(c, env);

describe('expandCommand', () => {
  it('COPY/ADD: sources, dest and the --from/--chown/--chmod/--checksum/--exclude flags', () => {
    const copy = expand(commandOf('COPY --from=$A --chown=$U:$U --chmod=${M:-755} --exclude=*.$A $A/src "$B" $D/\n', 'COPY'));
    expect(copy).toMatchObject({ from: 'alpha', chown: '1000:1000', chmod: '755', exclude: ['*.alpha'], sources: ['alpha/src', 'two words'], dest: '/data/' });
    const sum = 'a'.repeat(64);
    const add = expandCommand(commandOf('ADD --checksum=sha256:$SUM http://x/$A.tgz /\n', 'ADD'), { ...env, SUM: sum });
    expect(add).toMatchObject({ checksum: `sha256:${sum}`, sources: ['http://x/alpha.tgz'] });
    expect(() => expand(commandOf('ADD --checksum=sha256:$A http://x/y /\n', 'ADD'))).toThrow(/invalid checksum digest/);
    expect(() => expand(commandOf('ADD --checksum=md5:abc http://x/y /\n', 'ADD'))).toThrow(/unsupported digest algorithm: md5/);
  });

  it('COPY heredoc bodies expand unless the delimiter was quoted, and keep quotes', () => {
    const [plain, quoted] = commandsOf('COPY <<EOF /a\n"$A" \'$A\'\nEOF\nCOPY <<"EOF" /b\n$A\nEOF\n').map((c) => expandCommand(c, env)) as CopyCommand[];
    expect(plain!.heredocs[0]!.content).toBe('"alpha" \'alpha\'\n');
    expect(quoted!.heredocs[0]!.content).toBe('$A\n');
  });

  it('ENV and LABEL: keys and values, with quotes removed, all against the previous env', () => {
    expect(expand(commandOf('ENV A=x C=$A D="$B"\n', 'ENV')).pairs).toEqual([
      { key: 'A', value: 'x' }, { key: 'C', value: 'alpha' }, { key: 'D', value: 'two words' },
    ]);
    expect(expand(commandOf('ENV X $A and "$B"\n', 'ENV')).pairs).toEqual([{ key: 'X', value: 'alpha and two words' }]);
    expect(expand(commandOf('LABEL "com.$A"="v $U"\n', 'LABEL')).pairs).toEqual([{ key: 'com.alpha', value: 'v 1000' }]);
  });

  it('EXPOSE splits into words; VOLUME, USER, WORKDIR, STOPSIGNAL expand one word', () => {
    expect(expand(commandOf('EXPOSE $PORTS 8080\n', 'EXPOSE')).ports).toEqual(['80', '443/tcp', '8080']);
    expect(expand(commandOf('VOLUME ["$D", "/x"]\n', 'VOLUME')).paths).toEqual(['/data', '/x']);
    expect(expand(commandOf('USER $U:$U\n', 'USER')).user).toBe('1000:1000');
    expect(expand(commandOf('WORKDIR $D/app\n', 'WORKDIR')).path).toBe('/data/app');
    expect(expand(commandOf('STOPSIGNAL SIG${S:-TERM}\n', 'STOPSIGNAL')).signal).toBe('SIGTERM');
  });

  it('ARG defaults expand; RUN mount options expand but the command does not', () => {
    expect(expand(commandOf('ARG X=$A Y\n', 'ARG')).args).toEqual([{ key: 'X', value: 'alpha' }, { key: 'Y' }]);
    const run = expand(commandOf('RUN --mount=type=cache,target=$D/cache,id=$A echo $A\n', 'RUN'));
    expect(run.mounts[0]).toEqual({ type: 'cache', options: { target: '/data/cache', id: 'alpha', readonly: 'false' } });
    expect(run.line).toEqual({ form: 'shell', command: 'echo $A' });
  });

  it('validates RUN mounts after expansion and fills the readonly default', () => {
    const mounts = (flags: string) => expand(commandOf(`RUN ${flags} true\n`, 'RUN')).mounts;
    expect(mounts('--mount=target=/x --mount=type=tmpfs,target=/t,size=64m --mount=type=secret,id=s,required')).toEqual([
      { type: 'bind', options: { target: '/x', readonly: 'true' } },
      { type: 'tmpfs', options: { target: '/t', size: '64m', readonly: 'false' } },
      { type: 'secret', options: { id: 's', required: 'true', readonly: 'true' } },
    ]);
    expect(mounts('--mount=target=/x,rw=${RW:-true}')[0]!.options.readonly).toBe('false');
    expect(mounts('--mount=type=cache,target=/c,mode=0755,uid=$U,sharing=LOCKED')[0]!.options).toMatchObject({ mode: '0755', uid: '1000', sharing: 'locked' });
    expect(() => mounts('--mount=type=cache,target=/c,bogus=1')).toThrow(/unexpected key 'bogus'/);
    expect(() => mounts('--mount=type=cache,target=/c,sharing=all')).toThrow(/unsupported sharing value/);
    expect(() => mounts('--mount=type=bind,target=/c,sharing=locked')).toThrow(/invalid cache sharing/);
    expect(() => mounts('--mount=type=bind,target=/c,mode=755')).toThrow(/mode not allowed/);
    expect(() => mounts('--mount=type=cache,target=/c,mode=9')).toThrow(/invalid value 9 for mode/);
    expect(() => mounts('--mount=type=bind,target=/c,required')).toThrow(/unexpected key 'required' for mount type 'bind'/);
    expect(() => mounts('--mount=type=cache,target=/c,size=1g')).toThrow(/unexpected key 'size'/);
    expect(() => mounts('--mount=type=secret')).toThrow(/one of source, target required/);
    expect(() => mounts('--mount=type=secret,id=a,source=b')).toThrow(/both source and id/);
    expect(() => mounts('--mount=target=/x,ro=maybe')).toThrow(/invalid value for readonly/);
  });

  it('leaves CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD and MAINTAINER alone', () => {
    for (const cmd of commandsOf('CMD echo $A\nENTRYPOINT ["$A"]\nSHELL ["$A"]\nHEALTHCHECK CMD $A\nONBUILD RUN $A\nMAINTAINER $A\n')) {
      expect(expandCommand(cmd, env)).toEqual(cmd);
    }
  });

  it('uses the escape token recorded on the command', () => {
    const [work] = commandsOf('WORKDIR c:\\$A\n');
    expect(expandCommand(work!, env)).toMatchObject({ path: 'c:$A' });
    const tick = commandOf('WORKDIR c:\\$A\n', 'WORKDIR');
    expect(expandCommand({ ...tick, escapeToken: '`' }, env).path).toBe('c:\\alpha');
  });

  it('validates EXPOSE ports and STOPSIGNAL after expansion', () => {
    expect(expand(commandOf('EXPOSE 80 8000-8010/udp 127.0.0.1:8080:80 53/SCTP\n', 'EXPOSE')).ports).toHaveLength(4);
    expect(() => expand(commandOf('EXPOSE $A\n', 'EXPOSE'))).toThrow(/invalid containerPort: alpha/);
    expect(() => expand(commandOf('EXPOSE 80/http\n', 'EXPOSE'))).toThrow(/invalid proto: http/);
    expect(() => expand(commandOf('EXPOSE 70000\n', 'EXPOSE'))).toThrow(/invalid containerPort/);
    expect(() => expand(commandOf('EXPOSE 90-80\n', 'EXPOSE'))).toThrow(/invalid containerPort/);
    expect(() => expand(commandOf('EXPOSE 1-2:80\n', 'EXPOSE'))).toThrow(/invalid ranges/);
    for (const ok of ['SIGTERM', 'term', 'SIGRTMIN+3', '9']) expect(expand(commandOf(`STOPSIGNAL ${ok}\n`, 'STOPSIGNAL')).signal).toBe(ok);
    expect(() => expand(commandOf('STOPSIGNAL SIGNOPE\n', 'STOPSIGNAL'))).toThrow(/Invalid signal: SIGNOPE/);
    expect(() => expand(commandOf('STOPSIGNAL 0\n', 'STOPSIGNAL'))).toThrow(/Invalid signal/);
  });

  it('does not modify its input', () => {
    const env2 = commandOf('ENV X=$A\n', 'ENV');
    expandCommand(env2, env);
    expect(env2.pairs[0]!.value).toBe('$A');
  });

  it('reports expansion errors with the instruction location', () => {
    const err = thrown(() => expand(commandOf('\n\nWORKDIR ${NEED:?set NEED}\n', 'WORKDIR'))) as ExpansionError;
    expect(err).toBeInstanceOf(ExpansionError);
    expect(err.line).toBe(4);
    expect(err.message).toMatch(/NEED: set NEED/);
  });
});

describe('ARG helpers', () => {
  it('resolveArgValues: build arg beats default, default is expanded', () => {
    const arg = commandOf('ARG X=$A Y Z=1\n', 'ARG');
    expect(resolveArgValues(arg, env, { Z: 'cli' })).toEqual([{ key: 'X', value: 'alpha' }, { key: 'Y' }, { key: 'Z', value: 'cli' }]);
  });

  it('quoteLiteral survives expansion unchanged', () => {
    for (const esc of ['\\', '`']) {
      const value = `a $B "q" 'r' \\ \` \${x}`;
      expect(new ShellLexer({ escapeToken: esc }).processWord(quoteLiteral(value, esc), env)).toBe(value);
    }
  });
});
