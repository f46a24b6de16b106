import { describe, it, expect } from '@jest/globals';
import { DockerfileInstructionError, DockerfileError } from '../../src/dockerfile/index.js';
import { RiboError as BaseRiboError } from '../../src/errors.js';
import { commandOf, stagesOf, thrown } from './helpers.js';

const rules = (text: string) => stagesOf(text).warnings.map((w) => w.rule);

describe('RUN', () => {
  it('shell and exec form, heredocs', () => {
    expect(commandOf('RUN echo  hi\n', 'RUN').line).toEqual({ form: 'shell', command: 'echo  hi' });
    expect(commandOf('RUN ["echo", "hi"]\n', 'RUN').line).toEqual({ form: 'exec', args: ['echo', 'hi'] });
    const run = commandOf('RUN <<EOF\nset -e\nEOF\n', 'RUN');
    expect(run.line).toEqual({ form: 'shell', command: '<<EOF' });
    expect(run.heredocs[0]).toMatchObject({ name: 'EOF', content: 'set -e\n' });
    expect(run.original).toBe('RUN <<EOF');
  });

  it('--mount, --network and --security', () => {
    const run = commandOf('RUN --mount=type=secret,id=tok --mount=type=bind,from=build,src=/out,dst=/in,ro --mount=type=cache,target=/c,sharing=locked --network=none --security=insecure make\n', 'RUN');
    expect(run.mounts).toEqual([
      { type: 'secret', options: { id: 'tok' } },
      { type: 'bind', options: { from: 'build', source: '/out', target: '/in', readonly: 'true' } },
      { type: 'cache', options: { target: '/c', sharing: 'locked' } },
    ]);
    expect(run).toMatchObject({ network: 'none', security: 'insecure' });
    expect(commandOf('RUN --mount=target=/x,rw true\n', 'RUN').mounts[0]).toEqual({ type: 'bind', options: { target: '/x', readonly: 'false' } });
    expect(commandOf('RUN --mount="type=bind,target=/a,source=x" true\n', 'RUN').mounts[0]!.options.source).toBe('x');
  });

  it('rejects bad mount types, bare keys, $ in from, and bad modes at parse time', () => {
    expect(() => commandOf('RUN --mount=type=nfs,target=/x true\n', 'RUN')).toThrow(/unsupported mount type "nfs"/);
    expect(() => commandOf('RUN --mount=type=cahce,target=/x true\n', 'RUN')).toThrow(/did you mean cache\?/);
    expect(() => commandOf('RUN --mount=target=/x,bogus true\n', 'RUN')).toThrow(/must be a key=value pair/);
    expect(() => commandOf('RUN --mount=from=$STAGE,target=/x true\n', 'RUN')).toThrow(/doesn't support variable expansion/);
    expect(() => commandOf('RUN --mount=target=/x,\\"bad true\n', 'RUN')).toThrow(/failed to parse csv mounts/);
    expect(() => commandOf('RUN --network=bridge true\n', 'RUN')).toThrow(/network mode "bridge"/);
    expect(() => commandOf('RUN --security=weird true\n', 'RUN')).toThrow(/security mode/);
  });

  it('leaves value checks to expansion time, as BuildKit does', () => {
    expect(commandOf('RUN --mount=type=cache,target=/c,bogus=1 true\n', 'RUN').mounts[0]!.options.bogus).toBe('1');
  });
});

describe('COPY and ADD', () => {
  it('sources, destination and every flag', () => {
    const copy = commandOf('COPY --from=build --chown=1:2 --chmod=644 --link --parents --exclude=*.md --exclude=.git a b /dst/\n', 'COPY');
    expect(copy).toMatchObject({ sources: ['a', 'b'], dest: '/dst/', from: 'build', chown: '1:2', chmod: '644', link: true, parents: true, exclude: ['*.md', '.git'] });
    expect(copy.checksum).toBeUndefined();
    const add = commandOf('ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.tgz /\n', 'ADD');
    expect(add).toMatchObject({ checksum: 'sha256:abc', keepGitDir: true, link: false, sources: ['https://x/y.tgz'], dest: '/' });
    expect(add.unpack).toBeUndefined();
    expect(commandOf('ADD --unpack=false a.tgz /\n', 'ADD').unpack).toBe(false);
    expect(commandOf('COPY ["a b", "/c d/"]\n', 'COPY')).toMatchObject({ sources: ['a b'], dest: '/c d/' });
  });

  it('COPY heredoc sources', () => {
    const copy = commandOf('COPY <<one <<two /etc/\n1\none\n2\ntwo\n', 'COPY');
    expect(copy.sources).toEqual(['<<one', '<<two']);
    expect(copy.heredocs.map((h) => h.content)).toEqual(['1\n', '2\n']);
  });

  it('errors: no destination, heredoc destination, flags of the other instruction, bad booleans', () => {
    expect(() => commandOf('COPY onlyone\n', 'COPY')).toThrow(/requires at least two arguments/);
    expect(() => commandOf('COPY a <<EOF\nx\nEOF\n', 'COPY')).toThrow(/heredoc as a destination/);
    expect(() => commandOf('COPY --checksum=x a b\n', 'COPY')).toThrow(/unknown flag: checksum/);
    expect(() => commandOf('ADD --from=x a b\n', 'ADD')).toThrow(/unknown flag: from/);
    expect(() => commandOf('COPY --link=maybe a b\n', 'COPY')).toThrow(/expecting boolean value/);
    expect(() => commandOf('COPY --from a b\n', 'COPY')).toThrow(/missing a value on flag: from/);
    expect(() => commandOf('COPY --from=a --from=b a b\n', 'COPY')).toThrow(/duplicate flag specified: from/);
  });

  it('suggests a close flag name', () => {
    const err = thrown(() => commandOf('COPY --chonw=1 a b\n', 'COPY')) as DockerfileInstructionError;
    expect(err.message).toMatch(/unknown flag: chonw \(did you mean chown\?\)/);
  });
});

describe('key/value instructions', () => {
  it('ENV and LABEL pairs, legacy form warns', () => {
    expect(commandOf('ENV A=1 B="2 3"\n', 'ENV').pairs).toEqual([{ key: 'A', value: '1' }, { key: 'B', value: '"2 3"' }]);
    expect(commandOf('LABEL a=b\n', 'LABEL').pairs).toEqual([{ key: 'a', value: 'b' }]);
    expect(rules('FROM scratch\nENV A 1\n')).toContain('LegacyKeyValueFormat');
    expect(rules('FROM scratch\nLABEL a b\n')).toContain('LegacyKeyValueFormat');
    expect(rules('FROM scratch\nENV A=1\n')).not.toContain('LegacyKeyValueFormat');
  });

  it('ENV without arguments and blank names are errors', () => {
    expect(() => commandOf('ENV\n', 'ENV')).toThrow(/ENV requires at least one argument/);
    expect(() => commandOf('ENV =x\n', 'ENV')).toThrow(/ENV names can not be blank/);
  });

  it('ARG with and without defaults', () => {
    expect(commandOf('ARG A B=2 C=\n', 'ARG').args).toEqual([{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }]);
    expect(() => commandOf('ARG\n', 'ARG')).toThrow(/ARG requires at least one argument/);
  });
});

describe('config instructions', () => {
  it('CMD and ENTRYPOINT', () => {
    expect(commandOf('CMD ["a"]\n', 'CMD').line).toEqual({ form: 'exec', args: ['a'] });
    expect(commandOf('ENTRYPOINT exec app\n', 'ENTRYPOINT').line).toEqual({ form: 'shell', command: 'exec app' });
    expect(commandOf('CMD []\n', 'CMD').line).toEqual({ form: 'exec', args: [] });
  });

  it('SHELL must be JSON', () => {
    expect(commandOf('SHELL ["/bin/bash", "-c"]\n', 'SHELL').shell).toEqual(['/bin/bash', '-c']);
    expect(() => commandOf('SHELL /bin/bash -c\n', 'SHELL')).toThrow(/JSON form/);
  });

  it('EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER', () => {
    expect(commandOf('EXPOSE 80 443/udp\n', 'EXPOSE').ports).toEqual(['80', '443/udp']);
    expect(commandOf('VOLUME /a /b\n', 'VOLUME').paths).toEqual(['/a', '/b']);
    expect(commandOf('USER app:app\n', 'USER').user).toBe('app:app');
    expect(commandOf('WORKDIR /my app\n', 'WORKDIR').path).toBe('/my app');
    expect(commandOf('STOPSIGNAL SIGINT\n', 'STOPSIGNAL').signal).toBe('SIGINT');
    expect(commandOf('MAINTAINER me <me@x>\n', 'MAINTAINER').maintainer).toBe('me <me@x>');
    expect(() => commandOf('EXPOSE\n', 'EXPOSE')).toThrow(/at least one argument/);
    expect(() => commandOf('VOLUME [""]\n', 'VOLUME')).toThrow(/empty string/);
    expect(() => commandOf('USER\n', 'USER')).toThrow(/exactly one argument/);
    expect(() => commandOf('WORKDIR\n', 'WORKDIR')).toThrow(/exactly one argument/);
  });

  it('HEALTHCHECK CMD, CMD-SHELL, NONE and durations', () => {
    const hc = commandOf('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --start-interval=1.5s --retries=3 CMD curl -f x\n', 'HEALTHCHECK');
    expect(hc).toMatchObject({ test: ['CMD-SHELL', 'curl -f x'], interval: 90e9, timeout: 500e6, startPeriod: 2e9, startInterval: 1.5e9, retries: 3 });
    expect(commandOf('HEALTHCHECK CMD ["a", "b"]\n', 'HEALTHCHECK').test).toEqual(['CMD', 'a', 'b']);
    expect(commandOf('HEALTHCHECK none\n', 'HEALTHCHECK').test).toEqual(['NONE']);
    expect(() => commandOf('HEALTHCHECK CONNECT x\n', 'HEALTHCHECK')).toThrow(/Unknown type "CONNECT"/);
    expect(() => commandOf('HEALTHCHECK CMD\n', 'HEALTHCHECK')).toThrow(/Missing command/);
    expect(() => commandOf('HEALTHCHECK NONE x\n', 'HEALTHCHECK')).toThrow(/takes no arguments/);
    expect(() => commandOf('HEALTHCHECK --interval=10 CMD x\n', 'HEALTHCHECK')).toThrow(/invalid duration/);
    expect(() => commandOf('HEALTHCHECK --interval=10us CMD x\n', 'HEALTHCHECK')).toThrow(/less than 1ms/);
    expect(() => commandOf('HEALTHCHECK --retries=-1 CMD x\n', 'HEALTHCHECK')).toThrow(/cannot be negative/);
    expect(() => commandOf('HEALTHCHECK --bogus=1 CMD x\n', 'HEALTHCHECK')).toThrow(/unknown flag: bogus/);
  });

  it('ONBUILD keeps the trigger text, with heredocs', () => {
    expect(commandOf('ONBUILD  RUN echo hi\n', 'ONBUILD').expression).toBe('RUN echo hi');
    expect(commandOf('ONBUILD COPY <<EOF /x\nbody\nEOF\n', 'ONBUILD').expression).toBe('COPY <<EOF /x\nbody\nEOF');
    expect(() => commandOf('ONBUILD ONBUILD RUN x\n', 'ONBUILD')).toThrow(/Chaining ONBUILD/);
    expect(() => commandOf('ONBUILD FROM x\n', 'ONBUILD')).toThrow(/isn't allowed as an ONBUILD trigger/);
    expect(() => commandOf('ONBUILD\n', 'ONBUILD')).toThrow(/at least one argument/);
  });

  it('flags are rejected where none are defined', () => {
    expect(() => commandOf('ENV --x=1 A=1\n', 'ENV')).toThrow(/unknown flag: x/);
    expect(() => commandOf('CMD --doit echo\n', 'CMD')).toThrow(/unknown flag: doit/);
  });
});

describe('errors', () => {
  it('unknown instructions get a suggestion, the location and the source line', () => {
    const err = thrown(() => stagesOf('FROM scratch\n\nFORM alpine\n')) as DockerfileInstructionError;
    expect(err).toBeInstanceOf(DockerfileInstructionError);
    expect(err).toBeInstanceOf(DockerfileError);
    expect(err).toBeInstanceOf(BaseRiboError);
    expect(err.reason).toBe('unknown instruction: FORM (did you mean FROM?)');
    expect(err.position).toMatchObject({ file: 'Dockerfile', line: 3, column: 1, sourceLine: 'FORM alpine' });
    expect(err.hint).toBe('replace FORM with FROM');
    expect(err.message).toContain('Dockerfile:3:1: unknown instruction: FORM (did you mean FROM?)');
  });

  it('an unknown instruction without a close match lists the valid ones', () => {
    const err = thrown(() => stagesOf('FROM scratch\nXYZZY a\n')) as DockerfileInstructionError;
    expect(err.reason).toBe('unknown instruction: XYZZY');
    expect(err.hint).toMatch(/valid instructions are/);
  });

  it('instructions before FROM (other than ARG) are rejected', () => {
    expect(() => stagesOf('RUN x\nFROM scratch\n')).toThrow(/no build stage in current context/);
  });
});

describe('check warnings', () => {
  it('MaintainerDeprecated, JSONArgsRecommended, MultipleInstructionsDisallowed', () => {
    expect(rules('FROM scratch\nMAINTAINER me\n')).toEqual(['MaintainerDeprecated']);
    expect(rules('FROM scratch\nCMD run me\n')).toEqual(['JSONArgsRecommended']);
    expect(rules('FROM scratch\nSHELL ["/bin/bash", "-c"]\nCMD run me\n')).toEqual([]);
    expect(rules('FROM scratch\nCMD ["a"]\nCMD ["b"]\n')).toEqual(['MultipleInstructionsDisallowed']);
  });

  it('casing rules', () => {
    expect(rules('FROM scratch AS Build\n')).toEqual(['StageNameCasing']);
    expect(rules('FROM scratch as build\n')).toEqual(['FromAsCasing']);
    expect(rules('from scratch as build\nrun x\nRUN y\n')).toEqual(['ConsistentInstructionCasing']);
  });

  it('WorkdirRelativePath, SecretsUsedInArgOrEnv, Expose checks', () => {
    expect(rules('FROM scratch\nWORKDIR app\n')).toEqual(['WorkdirRelativePath']);
    expect(rules('FROM scratch\nWORKDIR /app\nWORKDIR sub\n')).toEqual([]);
    expect(rules('FROM scratch\nARG GITHUB_TOKEN\nENV dbPassword=x\nENV PUBLIC_KEY=y\n')).toEqual(['SecretsUsedInArgOrEnv', 'SecretsUsedInArgOrEnv']);
    expect(rules('FROM scratch\nEXPOSE 80/TCP 127.0.0.1:80:80\n')).toEqual(['ExposeProtoCasing', 'ExposeInvalidFormat']);
  });

  it('# check=skip and error=true', () => {
    expect(rules('# check=skip=MaintainerDeprecated\nFROM scratch\nMAINTAINER me\n')).toEqual([]);
    expect(rules('# check=skip=all\nFROM scratch\nMAINTAINER me\n')).toEqual([]);
    expect(() => stagesOf('# check=error=true\nFROM scratch\nMAINTAINER me\n')).toThrow(/MaintainerDeprecated/);
    expect(() => stagesOf('# check=bogus=1\nFROM scratch\n')).toThrow(/invalid check option/);
  });
});
