import { describe, it, expect } from '@jest/globals';
import {
  parseDockerfile, planStages, resolveBuild, resolvedBuildJSON, expandCommand, resolveArgValues, loadDockerfile,
  DockerfileStageError, DockerfileInstructionError, DockerfileNotFoundError, type ArgCommand,
} from '../../src/dockerfile/index.js';
import { hostPlatform } from '../../src/dockerfile/platform.js';
import { stagesOf, thrown } from './helpers.js';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

describe('FROM and stage bases', () => {
  it('scratch, images and earlier stages (by case-insensitive name)', () => {
    const { stages } = stagesOf('FROM alpine:3 AS Base\nFROM base\nFROM scratch\nFROM BASE as other\n');
    expect(stages.map((s) => s.base)).toEqual([
      { kind: 'image', ref: 'alpine:3' }, { kind: 'stage', index: 0 }, { kind: 'scratch' }, { kind: 'stage', index: 0 },
    ]);
    expect(stages.map((s) => s.name)).toEqual(['base', undefined, undefined, 'other']);
    expect(stages[1]!.location).toEqual({ file: 'Dockerfile', startLine: 2, endLine: 2 });
  });

  it('a later stage name in FROM is an image, as in BuildKit', () => {
    const { stages } = stagesOf('FROM later\nFROM alpine AS later\n');
    expect(stages[0]!.base).toEqual({ kind: 'image', ref: 'later' });
  });

  it('--platform is expanded; invalid names and arity are errors', () => {
    const { stages } = stagesOf('FROM --platform=$BUILDPLATFORM golang AS build\n');
    const host = hostPlatform();
    expect(stages[0]!.platform).toBe(`linux/${host.architecture}${host.variant ? '/' + host.variant : ''}`);
    expect(() => stagesOf('FROM a AS 1abc\n')).toThrow(/invalid name for build stage/);
    expect(() => stagesOf('FROM a b\n')).toThrow(/FROM requires either one or three arguments/);
    expect(() => stagesOf('FROM a AS x\nFROM b AS X\n')).toThrow(/Duplicate stage name "x"/);
    expect(() => stagesOf('FROM --plat=x a\n')).toThrow(/unknown flag: plat/);
  });

  it('reports a blank base name', () => {
    const err = thrown(() => stagesOf('ARG IMG\nFROM $IMG\n')) as DockerfileInstructionError;
    expect(err.reason).toBe('base name ($IMG) should not be blank');
    expect(err.line).toBe(2);
  });

  it('a file with only ARGs has no stages', () => {
    expect(() => stagesOf('ARG A=1\n')).toThrow(DockerfileStageError);
  });
});

describe('ARG scoping', () => {
  const file = 'ARG BASE=alpine\nARG TAG=3.19\nARG OTHER=$TAG-x\nFROM ${BASE}:${TAG}\nARG TAG\nARG OTHER=mine\nARG LOCAL\nRUN echo $TAG\n';

  it('global ARGs expand FROM lines, with --build-arg overriding defaults', () => {
    expect(stagesOf(file).stages[0]!.base).toEqual({ kind: 'image', ref: 'alpine:3.19' });
    expect(stagesOf(file, { buildArgs: { TAG: 'edge' } }).stages[0]!.base).toEqual({ kind: 'image', ref: 'alpine:edge' });
    expect(stagesOf(file).globalArgs).toEqual({ BASE: 'alpine', TAG: '3.19', OTHER: '3.19-x' });
  });

  it('a re-declared global ARG inherits the global value; a stage default wins over it', () => {
    const arg = (text: string, opts = {}) => stagesOf(text, opts).stages[0]!.commands.filter((c) => c.kind === 'ARG') as ArgCommand[];
    const [tag, other, local] = arg(file);
    expect(tag!.args[0]).toEqual({ key: 'TAG', value: '3.19', inherited: true });
    expect(other!.args[0]).toEqual({ key: 'OTHER', value: 'mine' });
    expect(local!.args[0]).toEqual({ key: 'LOCAL' });
    // with --build-arg, the engine's build-arg value wins, so nothing is inherited
    expect(arg(file, { buildArgs: { TAG: 'edge' } })[0]!.args[0]).toEqual({ key: 'TAG' });
    expect(resolveArgValues(arg(file, { buildArgs: { TAG: 'edge' } })[0]!, {}, { TAG: 'edge' })).toEqual([{ key: 'TAG', value: 'edge' }]);
  });

  it('an inherited value is literal: it survives expandCommand', () => {
    const { stages } = stagesOf('ARG V=\'$HOME "q"\'\nFROM scratch\nARG V\n');
    const arg = stages[0]!.commands[0] as ArgCommand;
    expect(expandCommand(arg, { HOME: '/root' }).args[0]!.value).toBe('$HOME "q"');
  });

  it('global ARGs are not visible in a stage unless re-declared', () => {
    const { stages } = stagesOf('ARG G=1\nFROM scratch\nENV X=$G\n');
    expect(stages[0]!.commands.some((c) => c.kind === 'ARG')).toBe(false);
  });

  it('predefined platform ARGs are usable in FROM and inherited when declared', () => {
    const { stages } = stagesOf('FROM --platform=linux/arm64 img:$TARGETARCH AS arm64build\nARG TARGETOS TARGETPLATFORM\n', { platform: 'linux/arm64' });
    expect(stages[0]!.base).toEqual({ kind: 'image', ref: 'img:arm64' });
    expect((stages[0]!.commands[0] as ArgCommand).args).toEqual([
      { key: 'TARGETOS', value: 'linux', inherited: true },
      { key: 'TARGETPLATFORM', value: 'linux/arm64', inherited: true },
    ]);
  });

  it('warns about FROM arguments that are not declared', () => {
    const { warnings } = stagesOf('FROM alpine:${NOPE:-3}\n');
    expect(warnings).toEqual([expect.objectContaining({ rule: 'UndefinedArgInFrom', message: "FROM argument 'NOPE' is not declared" })]);
  });

  it('warns about --build-arg values nothing consumes, ignoring proxies and platform args', () => {
    const { warnings } = stagesOf(file, { buildArgs: { LOCAL: '1', UNUSED: '2', HTTP_PROXY: 'x', TARGETARCH: 'amd64' } });
    expect(warnings.filter((w) => w.rule === 'UnusedBuildArg').map((w) => w.message)).toEqual(['One or more build-args [UNUSED] were not consumed']);
  });

  it('an ARG declared only in a stage the target does not need does not consume', () => {
    const text = 'FROM scratch AS a\nARG ONLY_A\nFROM scratch AS b\n';
    const rule = (target: string) => stagesOf(text, { target, buildArgs: { ONLY_A: '1' } }).warnings.map((w) => w.rule);
    expect(rule('a')).toEqual([]);
    expect(rule('b')).toEqual(['UnusedBuildArg']);
  });
});

describe('planStages', () => {
  const text = [
    'FROM alpine AS base',
    'FROM base AS deps',
    'FROM golang AS tools',
    'FROM scratch AS build',
    'COPY --from=deps /a /a',
    'COPY --from=2 /t /t',
    'RUN --mount=type=bind,from=node:20,target=/n true',
    'FROM busybox AS unused',
    'FROM scratch AS final',
    'ARG SRC=build',
    'COPY --from=${SRC} /out /',
    'COPY --from=nginx:latest /etc/nginx /etc/nginx',
  ].join('\n');

  it('finds the needed stages, a valid order and parallel groups', () => {
    const { stages } = stagesOf(text);
    const plan = planStages(stages, undefined, {});
    expect(plan.target).toBe(5);
    expect(plan.order).toEqual([0, 2, 1, 3, 5]);
    expect(plan.groups).toEqual([[0, 2], [1], [3], [5]]);
    expect(plan.dependencies[3]).toEqual({ index: 3, name: 'build', stages: [1, 2], images: ['node:20'] });
    expect(plan.dependencies[5]!.images).toEqual(['nginx:latest']);
  });

  it('honours a target, and --build-arg in --from', () => {
    const { stages } = stagesOf(text);
    expect(planStages(stages, 'DEPS').order).toEqual([0, 1]);
    const plan = planStages(stages, 'final', { buildArgs: { SRC: 'tools' } });
    expect(plan.order).toEqual([2, 5]);
  });

  it('rejects an unknown target and circular COPY --from', () => {
    const { stages } = stagesOf(text);
    expect(() => planStages(stages, 'nope')).toThrow(/target stage "nope" could not be found/);
    expect(() => stagesOf(text, { target: 'nope' })).toThrow(DockerfileStageError);
    expect(() => stagesOf('FROM a AS one\nCOPY --from=two / /\nFROM b AS two\nCOPY --from=one / /\n')).toThrow(/circular dependency detected on stage: one/);
    expect(() => stagesOf('FROM a\nCOPY --from=0 / /\n')).toThrow(/circular dependency detected on stage: stage-0/);
    expect(() => stagesOf('FROM a\nCOPY --from=7 / /\n')).toThrow(/invalid stage index 7/);
  });

  it('resolveBuild and its JSON describe the plan', () => {
    const parsed = parseDockerfile(text, 'Dockerfile');
    const resolved = resolveBuild(parsed, { target: 'build' });
    expect(resolved.target).toEqual({ index: 3, name: 'build' });
    expect(resolved.stages.map((s) => s.needed)).toEqual([true, true, true, true, false, false]);
    expect(resolved.parallelGroups).toEqual([[0, 2], [1], [3]]);
    const json = JSON.parse(resolvedBuildJSON(parsed, { target: 'build' }));
    expect(json.stages[3].commands[0]).toMatchObject({ kind: 'COPY', from: 'deps', original: 'COPY --from=deps /a /a' });
    expect(json.order).toEqual(resolved.order);
  });
});

describe('loadDockerfile', () => {
  it('reads and parses a file, or names the missing path', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-df-'));
    try {
      const file = path.join(dir, 'Dockerfile');
      await writeFile(file, 'FROM scratch\n');
      const parsed = await loadDockerfile(file);
      expect(parsed.file).toBe(file);
      expect(parsed.nodes).toHaveLength(1);
      const missing = path.join(dir, 'Nope');
      await expect(loadDockerfile(missing)).rejects.toThrow(DockerfileNotFoundError);
      await expect(loadDockerfile(missing)).rejects.toThrow(missing);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
