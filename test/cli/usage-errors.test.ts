import { closeSpelling, usageFailure } from '../../src/cli/usage-errors.js';
import { runCommand, takesContainerCommand } from '../../src/cli/commands/run.js';
import { buildCommand } from '../../src/cli/commands/build.js';
import { stopCommand } from '../../src/cli/commands/stop.js';
import { imagesCommand } from '../../src/cli/commands/images.js';
import { expandManagementCommand } from '../../src/cli/management.js';

const commands = [runCommand, buildCommand, stopCommand, imagesCommand];
const failure = (args: string[], yargsMessage = 'Not enough non-option arguments: got 0, need at least 1') =>
  usageFailure(args, commands, yargsMessage, takesContainerCommand).message;

describe('usage errors', () => {
  it('name the unknown flag once, as typed, ending with a full stop before the help hint', () => {
    expect(failure(['run', '--gpus', 'all', 'img'])).toBe("ribo run has no flag --gpus: docker's --gpus is not implemented (see docs/unsupported.md). See `ribo run --help`.");
    expect(failure(['build', '--blkio-weight', '5', '.'], 'Unknown arguments: blkio-weight, blkioWeight')).toMatch(/^ribo build has no flag --blkio-weight \(/);
    expect(failure(['--root', '/s', 'run', '-it', '-x', 'img'])).toMatch(/^ribo run has no flag -x /);
  });
  it('know the values of known flags, clusters of short ones and negations', () => {
    expect(failure(['run', '-it', '-e', 'A=1', '--no-rm', '--blkio-weight', '300', 'img'])).toMatch(/has no flag --blkio-weight: docker's --blkio-weight is not implemented/);
    expect(failure(['run', '--name', '--gpus', 'img'])).toMatch(/needs more arguments/);
  });
  it('leave the container command\'s flags alone', () => {
    expect(failure(['run', 'img', 'ls', '--device'])).toMatch(/^ribo run needs more arguments: ribo run <image> \[command\.\.\]\. See/);
  });
  it('turn yargs\' other messages into sentences naming the flag or the usage', () => {
    expect(failure(['images', 'a', 'b'], 'Unknown argument: b')).toBe('ribo images takes fewer arguments: ribo images [reference]. See `ribo images --help`.');
    expect(failure(['build', '--compression', 'x', '.'], 'Invalid values:\n  Argument: compression, Given: "x", Choices: "gzip", "zstd", "none"')).toBe('--compression "x": choose one of "gzip", "zstd", "none". See `ribo build --help`.');
  });
  it('give another name or a close spelling only', () => {
    expect(failure(['run', '--net', 'host', 'img'])).toMatch(/ribo calls it --network\. See/);
    expect(failure(['run', '--volme', 'x', 'img'])).toMatch(/Did you mean --volume\? See/);
    expect(failure(['run', '--blkio-weight', 'x', 'img'])).not.toMatch(/Did you mean/);
  });
  it('suggest commands only for close spellings', () => {
    expect(failure(['top'])).toMatch(/^ribo has no "top" command \(docker has one; ribo does not implement it\)\. See `ribo --help`\.$/);
    expect(failure(['stats'])).not.toMatch(/start/);
    expect(failure(['bogus'])).toBe('ribo has no "bogus" command. See `ribo --help`.');
    expect(failure(['stpo'])).toMatch(/Did you mean "stop"\?/);
    expect(closeSpelling('imags', ['images', 'rmi'])).toBe('images');
    expect(closeSpelling('logs', ['bogus'])).toBeUndefined();
  });
});

describe('management commands', () => {
  const exists = (name: string) => name === 'container-prune';
  it('rewrite docker\'s spellings into ribo\'s commands', () => {
    expect(expandManagementCommand(['--root', '/s', 'image', 'ls', '-q'], exists)).toEqual(['--root', '/s', 'images', '-q']);
    expect(expandManagementCommand(['container', 'inspect', 'web'], exists)).toEqual(['inspect', '--type', 'container', 'web']);
    expect(expandManagementCommand(['container', 'prune'], exists)).toEqual(['container-prune']);
    expect(expandManagementCommand(['builder', 'prune', '--all'], exists)).toEqual(['prune', '--all']);
    expect(expandManagementCommand(['images', 'ls'], exists)).toEqual(['images', 'ls']);
    expect(() => expandManagementCommand(['image', 'frob'], exists)).toThrow(/has no subcommand "frob"/);
    expect(() => expandManagementCommand(['container'], exists)).toThrow(/^ribo container needs a subcommand: ls, .*\. See `ribo container --help`\.$/);
    expect(expandManagementCommand(['image', '--help'], exists)).toEqual(['image', '--help']);
  });
});
