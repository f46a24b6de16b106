import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PLAN_APPLETS, planBusybox } from '../../src/run/run-plan-busybox.js';

describe('planBusybox', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ribo-busybox-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A busybox on PATH that lists `applets`. */
  async function fakeBusybox(applets: readonly string[]): Promise<string> {
    const file = path.join(dir, 'busybox');
    await writeFile(file, `#!/bin/sh\n[ "$1" = --list ] && printf '%s\\n' ${applets.join(' ')}\n`);
    await chmod(file, 0o755);
    return file;
  }

  it('names a busybox that has every applet the plan runs', async () => {
    const file = await fakeBusybox([...PLAN_APPLETS, 'vi']);
    expect(await planBusybox(dir)).toBe(file);
  });

  it('names none when an applet is missing: the plan runs the usual programs', async () => {
    await fakeBusybox(PLAN_APPLETS.filter((applet) => applet !== 'mkfifo'));
    expect(await planBusybox(dir)).toBe('');
  });
});
