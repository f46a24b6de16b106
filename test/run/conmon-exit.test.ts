/**
 * How a container under conmon ended is never lost: conmon's exit file is
 * read by the clean-up even when one of its release steps fails, and by the
 * recovery of a container whose clean-up did not finish; a recovery from a
 * record read before the clean-up wrote it keeps what it wrote; with a
 * --restart policy it is recorded together with the restart to come.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ContainerStore, type ContainerRecord } from '../../src/run/containers.js';
import { cleanupAfterConmon } from '../../src/run/conmon-monitor.js';
import { conmonDirs } from '../../src/run/conmon-files.js';
import { recoverContainer, waitForExit } from '../../src/run/lifecycle.js';
import { markStopRequested } from '../../src/run/restart-policy.js';
import type { OciRuntime } from '../../src/runtime/oci-runtime.js';

let root: string;
let containers: ContainerStore;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ribo-conmon-exit-'));
  containers = ContainerStore.ofStore(root);
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A process that has ended: its identity is a monitor that is gone. */
function endedProcess(): { pid: number; start: number } {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return { pid: Number(child.stdout.toString().trim()), start: 1 };
}

async function runningUnderConmon(exitFileText?: string): Promise<ContainerRecord> {
  const created = await containers.create({
    image: 'hello',
    imageDigest: 'sha256:00',
    command: ['true'],
    autoRemove: false,
    detached: true,
    driver: 'overlay',
    runtime: 'crun',
    plan: { lowers: [], spec: { args: ['true'], env: [], cwd: '/', network: 'none', idCount: 1 } },
  });
  const record = await containers.update(created.id, { status: 'running', monitor: endedProcess(), startedAt: new Date().toISOString() });
  const { exitDir } = conmonDirs(containers, record.id);
  await mkdir(exitDir, { recursive: true });
  if (exitFileText !== undefined) await writeFile(path.join(exitDir, record.runtimeId), exitFileText);
  return record;
}

describe('the exit code conmon recorded', () => {
  it('is kept by the clean-up when a release step fails, which names the failure', async () => {
    const record = await runningUnderConmon('3');
    const failingRuntime = { delete: async () => Promise.reject(new Error('crun delete: container is still running')) } as unknown as OciRuntime;
    await expect(cleanupAfterConmon(containers, failingRuntime, record.id)).rejects.toThrow('container is still running');
    const after = await containers.read(record.id);
    expect(after.status).toBe('exited');
    expect(after.exitCode).toBe(3);
    expect(after.error).toContain('container is still running');
  });

  it('is what a container whose monitor is gone before recording the exit ends with', async () => {
    const record = await runningUnderConmon('0');
    const after = await waitForExit(containers, root, record.id, 1000);
    expect(after?.status).toBe('exited');
    expect(after?.exitCode).toBe(0);
    expect(after?.error).toContain('clean-up');
  });

  it('is unknown (255) only when conmon wrote none', async () => {
    const record = await runningUnderConmon();
    const after = await waitForExit(containers, root, record.id, 1000);
    expect(after?.exitCode).toBe(255);
    expect(after?.error).toContain('ended without recording how the container ended');
  });
});

describe('a record read before its monitor ended', () => {
  it('is not recovered over the exit the clean-up recorded', async () => {
    // Read while running; then conmon's clean-up records the exit and conmon
    // ends, so the reader finds the monitor gone (ribo stop under load).
    const stale = await runningUnderConmon();
    await containers.update(stale.id, { status: 'exited', exitCode: 0, finishedAt: new Date().toISOString() });
    const after = await recoverContainer(containers, root, stale);
    expect(after?.exitCode).toBe(0);
    expect(after?.error).toBeUndefined();
    const stored = await containers.read(stale.id);
    expect(stored.status).toBe('exited');
    expect(stored.exitCode).toBe(0);
    expect(stored.error).toBeUndefined();
  });
});

describe('the exit of a container with a --restart policy', () => {
  const runtime = { delete: async () => undefined } as unknown as OciRuntime;
  const withPolicy = async (exitFileText: string) => {
    const record = await runningUnderConmon(exitFileText);
    return containers.update(record.id, { restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } });
  };

  it('is recorded as restarting at once when the policy restarts it: no reader sees it settled before the restart', async () => {
    const record = await withPolicy('1');
    await cleanupAfterConmon(containers, runtime, record.id);
    expect(await containers.read(record.id)).toMatchObject({ status: 'exited', exitCode: 1, restarting: true });
  });

  it('is not, for an exit the policy does not restart or after ribo stop', async () => {
    const clean = await withPolicy('0');
    await cleanupAfterConmon(containers, runtime, clean.id);
    expect(await containers.read(clean.id)).toMatchObject({ status: 'exited', exitCode: 0, restarting: false });
    const stopped = await withPolicy('1');
    await markStopRequested(containers, stopped);
    await cleanupAfterConmon(containers, runtime, stopped.id);
    expect(await containers.read(stopped.id)).toMatchObject({ status: 'exited', exitCode: 1, restarting: false });
  });
});
