/**
 * Device nodes and fifos through coreutils (`mknod`, `mkfifo`), since Node has no
 * mknod(2). Overlay whiteouts are 0/0 character devices; as many layers delete many
 * files, ribo creates one whiteout per unpack and hard-links it for the others, the
 * same way the kernel shares its whiteout inode (a process per whiteout costs ~1 ms).
 */
import { linkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LayerToolError } from './errors.js';
import { runTool } from './xattrs.js';

async function run(tool: string, args: string[]): Promise<void> {
  const { code, stderr } = await runTool(tool, args, null);
  if (code !== 0) throw new LayerToolError(tool, stderr.trim() || `exit status ${code}`);
}

export function makeDevice(path: string, kind: 'c' | 'b', major: number, minor: number): Promise<void> {
  return run('mknod', ['-m', '0600', '--', path, kind, String(major), String(minor)]);
}

/**
 * Creates a device node, or resolves false where the kernel forbids it: inside
 * a user namespace only 0/0 whiteouts may be made. Like Docker and podman
 * rootless, ribo then leaves the node out; containers get /dev from the runtime.
 */
export async function makeDeviceIfPermitted(path: string, kind: 'c' | 'b', major: number, minor: number): Promise<boolean> {
  try {
    await makeDevice(path, kind, major, minor);
    return true;
  } catch (error) {
    if (error instanceof LayerToolError && /Operation not permitted/.test(error.message)) return false;
    throw error;
  }
}

export function makeFifo(path: string): Promise<void> {
  return run('mkfifo', ['-m', '0600', '--', path]);
}

/** Creates overlay whiteouts by hard-linking a shared 0/0 device kept in `scratchDir`. */
export class WhiteoutMaker {
  private template: string | null = null;
  private readonly created: string[] = [];

  constructor(private readonly scratchDir: string) {}

  async create(path: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.template) {
        const template = join(this.scratchDir, `.ribo-whiteout-${randomBytes(8).toString('hex')}`);
        await makeDevice(template, 'c', 0, 0);
        this.template = template;
        this.created.push(template);
      }
      try {
        linkSync(this.template, path);
        return;
      } catch (error) {
        // The link count of one inode is limited (65000 on ext4): start a fresh one.
        if ((error as NodeJS.ErrnoException).code !== 'EMLINK') throw error;
        this.template = null;
      }
    }
  }

  /** Removes the shared templates; the whiteouts linked from them stay. */
  dispose(): void {
    for (const template of this.created) {
      try {
        unlinkSync(template);
      } catch {
        // already gone
      }
    }
    this.created.length = 0;
    this.template = null;
  }
}
