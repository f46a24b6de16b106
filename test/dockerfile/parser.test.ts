import { describe, it, expect } from '@jest/globals';
import { parseDockerfile, dumpNodes, DockerfileSyntaxError, type RawNode } from '../../src/dockerfile/index.js';
import { thrown } from './helpers.js';

const dump = (text: string) => dumpNodes(parseDockerfile(text, 'Dockerfile').nodes);
const nodes = (text: string): RawNode[] => parseDockerfile(text, 'Dockerfile').nodes;

describe('parser directives', () => {
  it('reads syntax, escape and check at the top, case-insensitively', () => {
    const parsed = parseDockerfile('# syntax=docker/dockerfile:1\n#ESCAPE = `\n# check=skip=all\nFROM a\n', 'Dockerfile');
    expect(parsed.directives.syntax).toBe('docker/dockerfile:1');
    expect(parsed.escapeToken).toBe('`');
    expect(parsed.directives.check).toBe('skip=all');
    expect(parsed.nodes).toHaveLength(1);
  });

  it('stops at the first non-directive line', () => {
    expect(parseDockerfile('# hello\n# escape=`\nFROM a\n', 'Dockerfile').escapeToken).toBe('\\');
    expect(parseDockerfile('\n# escape=`\nFROM a\n', 'Dockerfile').escapeToken).toBe('\\');
    expect(parseDockerfile('# unknown=1\n# escape=`\nFROM a\n', 'Dockerfile').escapeToken).toBe('\\');
  });

  it('rejects a repeated directive and an invalid escape', () => {
    expect(() => parseDockerfile('# escape=`\n# escape=`\nFROM a\n', 'Dockerfile')).toThrow(/only one escape parser directive/);
    const err = thrown(() => parseDockerfile('# escape=x\nFROM a\n', 'Dockerfile')) as DockerfileSyntaxError;
    expect(err).toBeInstanceOf(DockerfileSyntaxError);
    expect(err.line).toBe(1);
  });
});

describe('comments and continuations', () => {
  it('drops comments and blank lines', () => {
    expect(dump('# c\n\nFROM a\n  # indented comment\nRUN x # not a comment\n')).toBe('(from "a")\n(run "x # not a comment")');
  });

  it('joins continuation lines, keeping the next line\'s indentation', () => {
    expect(dump('FROM a\nRUN echo a \\\n    b\n')).toBe('(from "a")\n(run "echo a     b")');
  });

  it('skips comments and blank lines inside a continuation and warns about the blank one', () => {
    const parsed = parseDockerfile('FROM a\nRUN a \\\n# c\n\nb\n', 'Dockerfile');
    expect(dumpNodes(parsed.nodes)).toBe('(from "a")\n(run "a b")');
    expect(parsed.warnings.map((w) => w.rule)).toEqual(['NoEmptyContinuation']);
    expect(parsed.nodes[1]).toMatchObject({ startLine: 2, endLine: 5 });
  });

  it('does not continue after an escaped escape, nor after a comment ending in one', () => {
    expect(dump('FROM a\nENV X=a\\\\\nENV Y=b\n')).toBe('(from "a")\n(env "X" "a\\\\\\\\" "=")\n(env "Y" "b" "=")');
    expect(dump('# c \\\nFROM a\n')).toBe('(from "a")');
  });

  it('uses the backtick as line continuation when it is the escape token', () => {
    expect(dump('# escape=`\nFROM a\nRUN dir c:\\ `\n  /s\n')).toBe('(from "a")\n(run "dir c:\\\\   /s")');
  });

  it('ends an instruction continued at EOF', () => {
    expect(dump('FROM a\nRUN x \\')).toBe('(from "a")\n(run "x")');
  });

  it('drops a UTF-8 BOM and handles CRLF', () => {
    expect(dump('\ufeffFROM a\r\nRUN b\r\n')).toBe('(from "a")\n(run "b")');
  });

  it('fails on a file with no instructions', () => {
    expect(() => parseDockerfile('', 'Dockerfile')).toThrow(/file with no instructions/);
    expect(() => parseDockerfile('# only\n\n', 'Dockerfile')).toThrow(/file with no instructions/);
  });
});

describe('arguments per instruction', () => {
  it('exec form and the shell-form fallback', () => {
    expect(dump('CMD ["a", "b c"]')).toBe('(cmd "a" "b c")');
    expect(dump("CMD ['a']")).toBe('(cmd "[\'a\']")');
    expect(dump('RUN [ "a", ')).toBe('(run "[ \\"a\\",")');
    expect(dump('ENTRYPOINT []')).toBe('(entrypoint)');
    expect(nodes('SHELL ["sh", "-c"]')[0]!.json).toBe(true);
    expect(nodes('SHELL sh -c')[0]!.json).toBe(false);
  });

  it('rejects a JSON array with non-string elements', () => {
    expect(() => parseDockerfile('CMD ["a", 1]', 'Dockerfile')).toThrow(/only strings/);
    expect(() => parseDockerfile('COPY ["a", ["b"]]', 'Dockerfile')).toThrow(/only strings/);
  });

  it('splits ADD/COPY/VOLUME on whitespace without honouring quotes', () => {
    expect(dump('COPY "a b" c')).toBe('(copy "\\"a" "b\\"" "c")');
    expect(dump('VOLUME /a /b')).toBe('(volume "/a" "/b")');
    expect(dump('ADD ["a b", "c"]')).toBe('(add "a b" "c")');
  });

  it('ENV and LABEL in both forms', () => {
    expect(dump('ENV A=1 B="x y"')).toBe('(env "A" "1" "=" "B" "\\"x y\\"" "=")');
    expect(dump('ENV A  b c')).toBe('(env "A" "b c" "")');
    expect(dump('LABEL "a.b"=c')).toBe('(label "\\"a.b\\"" "c" "=")');
    expect(() => parseDockerfile('ENV A', 'Dockerfile')).toThrow(/must have two arguments/);
    expect(() => parseDockerfile('ENV A=1 B', 'Dockerfile')).toThrow(/can't find =/);
  });

  it('ARG keeps words verbatim', () => {
    expect(dump('ARG a="1 2" b')).toBe('(arg "a=\\"1 2\\"" "b")');
  });

  it('flags: quotes removed, -- ends them, every instruction can carry them', () => {
    expect(dump('COPY --from="x y" --chown=a:b src dst')).toBe('(copy ["--from=x y" "--chown=a:b"] "src" "dst")');
    expect(dump('COPY -- --notaflag dst')).toBe('(copy "--notaflag" "dst")');
    expect(dump('RUN --mount=type=cache,target=/c --network=none make')).toBe('(run ["--mount=type=cache,target=/c" "--network=none"] "make")');
    expect(dump('FROM --platform=$BUILDPLATFORM golang AS build')).toBe('(from ["--platform=$BUILDPLATFORM"] "golang" "AS" "build")');
  });

  it('HEALTHCHECK, ONBUILD and unknown keywords', () => {
    expect(dump('HEALTHCHECK --interval=5s CMD curl -f http://x/')).toBe('(healthcheck ["--interval=5s"] "CMD" "curl -f http://x/")');
    expect(dump('HEALTHCHECK NONE')).toBe('(healthcheck "NONE")');
    expect(dump('ONBUILD RUN ["a"]')).toBe('(onbuild (run "a"))');
    expect(dump('FORM alpine')).toBe('(form "")');
  });

  it('keeps the keyword as written and the original line', () => {
    const [node] = nodes('  Run   echo hi  ');
    expect(node).toMatchObject({ keyword: 'run', keywordAsWritten: 'Run', original: 'Run   echo hi  ' });
  });
});

describe('heredocs', () => {
  it('reads a RUN heredoc body', () => {
    const [, run] = nodes('FROM a\nRUN <<EOF\necho $HOME\n  two\nEOF\nRUN after\n');
    expect(run!.heredocs).toEqual([{ name: 'EOF', content: 'echo $HOME\n  two\n', expand: true, chomp: false, fileDescriptor: 0 }]);
    expect(run).toMatchObject({ startLine: 2, endLine: 5 });
  });

  it('<<- strips leading tabs from the body and the terminator', () => {
    const [run] = nodes('RUN <<-EOT\n\techo a\n\t\tb\n\tEOT\n');
    expect(run!.heredocs[0]).toMatchObject({ name: 'EOT', content: 'echo a\nb\n', chomp: true });
  });

  it('a quoted delimiter disables expansion', () => {
    for (const marker of ['<<"EOF"', "<<'EOF'", '<<E"O"F']) {
      const [run] = nodes(`RUN cat ${marker}\n$X\nEOF\n`);
      expect(run!.heredocs[0]).toMatchObject({ name: 'EOF', expand: false });
    }
  });

  it('several heredocs in one instruction, read in order, and COPY/ADD', () => {
    const [copy] = nodes('COPY <<A <<B /dest/\na\nA\nb\nB\n');
    expect(dumpNodes([copy!])).toBe('(copy "<<A" "<<B" "/dest/")');
    expect(copy!.heredocs.map((h) => [h.name, h.content])).toEqual([['A', 'a\n'], ['B', 'b\n']]);
    const [add] = nodes('ADD <<X /x\nbody\nX\n');
    expect(add!.heredocs[0]!.content).toBe('body\n');
  });

  it('a file descriptor prefix is recorded', () => {
    const [run] = nodes('RUN python3 3<<EOF\nprint(1)\nEOF\n');
    expect(run!.heredocs[0]).toMatchObject({ name: 'EOF', fileDescriptor: 3 });
  });

  it('bodies are raw: no comment or continuation handling', () => {
    const [run] = nodes('RUN <<EOF\n# not a comment \\\n\nEOF\n');
    expect(run!.heredocs[0]!.content).toBe('# not a comment \\\n\n');
  });

  it('ONBUILD RUN heredocs are read too; exec form and other instructions have none', () => {
    const [onbuild] = nodes('ONBUILD RUN <<EOF\necho\nEOF\n');
    expect(onbuild!.heredocs.map((h) => h.name)).toEqual(['EOF']);
    expect(nodes('RUN ["cat", "<<EOF"]\n')[0]!.heredocs).toEqual([]);
    expect(nodes('CMD cat <<EOF\nFROM x\n')).toHaveLength(2);
  });

  it('fails on an unterminated heredoc, naming the instruction line', () => {
    const err = thrown(() => parseDockerfile('FROM a\nRUN <<EOF\necho\n', 'Dockerfile')) as DockerfileSyntaxError;
    expect(err.message).toMatch(/unterminated heredoc/);
    expect(err.line).toBe(2);
  });
});
