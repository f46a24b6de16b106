import { classifyStartError, startFailure } from '../../src/runtime/start-failure.js';

describe('a command that could not start', () => {
  it('maps crun\'s and runc\'s messages to docker\'s 127 and 126', () => {
    expect(classifyStartError('executable file `nosuchcmd` not found in $PATH: No such file or directory')?.exitCode).toBe(127);
    expect(classifyStartError('runc run failed: unable to start container process: exec: "/nosuch": stat /nosuch: no such file or directory')?.exitCode).toBe(127);
    expect(classifyStartError('open executable: Permission denied')?.exitCode).toBe(126);
    expect(classifyStartError('runc run failed: unable to start container process: exec: "/app": permission denied')?.exitCode).toBe(126);
    expect(classifyStartError('exec container process `/bad`: Exec format error')?.exitCode).toBe(126);
  });

  it('leaves other runtime errors alone, and a container\'s own output', () => {
    expect(classifyStartError('mount `/missing` to `/data`: No such file or directory')).toBeUndefined();
    expect(startFailure([], 'some program said: permission denied\n')).toBeUndefined();
    expect(startFailure([], 'exec /bad: exec format error\n')?.exitCode).toBe(126);
  });
});
