/** The store's directories and files by name, made when it opens and cleaned of what dead processes left, so the other store modules only ask for paths. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MediaType, type ImageIndex, type ImageLayoutHeader } from '../oci/image.js';
import { createFileIfAbsent } from '../files/atomic-write.js';
import { isErrno } from '../files/errno.js';
import { isAlive, ownedName, parseOwner, type ProcessIdentity } from '../files/process-identity.js';
import { removeTree } from '../files/remove-tree.js';
import { markTopDir } from '../files/spread-dirs.js';
import { StoreLayoutError } from './errors.js';
import { withStoreLock } from './lock.js';

const LAYOUT_VERSION: ImageLayoutHeader = { imageLayoutVersion: '1.0.0' };
/** How long a command waits for the store lock and the shared in-use lock. */
export const LOCK_TIMEOUT_SECONDS = 120;
/** The build cache index (build/cache/directory-store.ts) writes "<hash>.<pid>.<random>.tmp" (files/atomic-write.ts) and renames. */
const CACHE_INDEX_DIRS = ['cache/steps', 'cache/positions'];
const CACHE_TEMP_NAME = /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+\.tmp$/;

/** Where things are in the store at `root`, for the process `owner` (whose temp names carry its identity). */
export class StoreLayout {
  constructor(
    readonly root: string,
    readonly owner: ProcessIdentity,
  ) {}

  get ingestDir(): string {
    return path.join(this.root, 'ingest');
  }
  get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }
  get indexPath(): string {
    return path.join(this.root, 'index.json');
  }
  /** The exclusive lock every change of index.json and every clean-up takes. */
  get lockPath(): string {
    return path.join(this.root, 'lock');
  }
  /** Shared by every process that has the store open, exclusive for garbage collection. */
  get inUseLockPath(): string {
    return path.join(this.root, 'in-use.lock');
  }

  /** A name in ingest/ owned by this process, for a file written before it is renamed into place. */
  ingestPath(label: string): string {
    return path.join(this.ingestDir, ownedName(this.owner, label));
  }

  /** A new empty directory under tmp/, removed by a later Store.open once this process has died. */
  async makeTempDir(prefix: string): Promise<string> {
    const label = prefix.replace(/[^A-Za-z0-9._-]/g, '_') || 'tmp';
    return fs.mkdtemp(path.join(this.tmpDir, `${this.owner.pid}.${this.owner.start}-${label}-`));
  }

  /** Makes the layout's directories and files where missing and checks its version. */
  async init(): Promise<void> {
    try {
      await this.makeLayout();
    } catch (error) {
      throw refusedLayout(this.root, error);
    }
  }

  private async makeLayout(): Promise<void> {
    await this.makePrivateRoot();
    for (const dir of ['blobs/sha256', 'ingest', 'layers']) {
      await fs.mkdir(path.join(this.root, dir), { recursive: true });
    }
    // Layers are unpacked and builds work under tmp/: each tree in a block group of its own (files/spread-dirs.ts).
    if (await fs.mkdir(this.tmpDir, { recursive: true })) await markTopDir(this.tmpDir);
    // Nothing is written when the files exist: a store on a full disk must still open (to free space).
    const layoutPath = path.join(this.root, 'oci-layout');
    if (!(await exists(layoutPath))) await createFileIfAbsent(this.ingestPath('oci-layout'), layoutPath, JSON.stringify(LAYOUT_VERSION));
    const layout = await this.readMetadataFile<ImageLayoutHeader>(layoutPath);
    if (layout.imageLayoutVersion !== LAYOUT_VERSION.imageLayoutVersion) {
      throw new StoreLayoutError(this.root, `${layoutPath} declares layout version "${layout.imageLayoutVersion}", ribo understands ${LAYOUT_VERSION.imageLayoutVersion}`);
    }
    const emptyIndex: ImageIndex = { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests: [] };
    if (!(await exists(this.indexPath))) await createFileIfAbsent(this.ingestPath('index'), this.indexPath, JSON.stringify(emptyIndex, null, 2) + '\n');
    await fs.writeFile(this.lockPath, '', { flag: 'a' });
    await fs.writeFile(this.inUseLockPath, '', { flag: 'a' });
  }

  /**
   * The root is 0700 (docs/store.md, "Who can read the store"): below it are
   * setuid files and world-writable dirs of unpacked layers, container records
   * with their -e secrets and build logs, none of which other users may reach.
   * One mkdir and one stat per open; a root made by an earlier ribo (0755) is
   * tightened here. Missing parents are made 0700 too, as the XDG spec asks of
   * ~/.local/share.
   */
  private async makePrivateRoot(): Promise<void> {
    await refuseVirtualFileSystem(this.root);
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    const info = await fs.stat(this.root);
    if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await fs.chmod(this.root, info.mode & 0o7700);
  }

  /**
   * Remove what dead processes left: ingest/ files, tmp/ dirs and pending layers/
   * trees (half-written blobs, half-unpacked layers, build work dirs, build steps'
   * trees not yet named by their diffID) and the cache index's temp files. Names
   * carry the owner's pid (and start time), so the work of live processes is never
   * touched. Runs under the store lock so two ribo processes do not clean at once.
   */
  async removeStaleEntries(): Promise<void> {
    const stale = await this.staleEntries();
    if (stale.length === 0) return;
    await withStoreLock(this.lockPath, LOCK_TIMEOUT_SECONDS, async () => {
      for (const entry of stale) {
        try {
          await removeTree(entry);
        } catch (error) {
          // Files of container users can only be removed inside ribo's user namespace:
          // the next command that enters it (build, run, import) cleans them.
          if (!isErrno(error, 'EACCES', 'EPERM')) throw error;
        }
      }
    });
  }

  private async staleEntries(): Promise<string[]> {
    const stale: string[] = [];
    // layers/ holds the pending trees of builds (LayerDirs.pendingLayerDir) besides the layers.
    for (const dir of [this.ingestDir, this.tmpDir, path.join(this.root, 'layers')]) {
      for (const name of await fs.readdir(dir)) {
        const owner = parseOwner(name);
        if (owner && !isAlive(owner)) stale.push(path.join(dir, name));
      }
    }
    for (const dir of CACHE_INDEX_DIRS.map((sub) => path.join(this.root, sub))) {
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
        const pid = CACHE_TEMP_NAME.exec(name)?.[1];
        if (pid !== undefined && !isAlive({ pid: Number(pid), start: 0 })) stale.push(path.join(dir, name));
      }
    }
    return stale;
  }

  private async readMetadataFile<T>(file: string): Promise<T> {
    const text = await fs.readFile(file, 'utf8');
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new StoreLayoutError(this.root, `${file} is not valid JSON (${(error as Error).message})`);
    }
  }
}

/** Why the file system refused a part of the layout, in words a user can act on. */
const REFUSALS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of that path is a file, not a directory',
  EEXIST: 'a file that is not a directory is in the way',
};

/** A refusal to make or open the store's own files as a StoreLayoutError naming the path; other errors as they are. */
function refusedLayout(root: string, error: unknown): unknown {
  const { code, path: where } = (error ?? {}) as NodeJS.ErrnoException;
  const why = code === undefined ? undefined : REFUSALS[code];
  if (why === undefined) return error;
  return new StoreLayoutError(root, `ribo cannot create or open ${where ?? root} (${why})`);
}

/** File systems the kernel fills itself, by statfs type: they hold no store (and Node's recursive mkdir never returns on procfs). */
const VIRTUAL_FILE_SYSTEMS: Record<number, string> = { 0x9fa0: '/proc', 0x62656572: '/sys' };

/** Refuses a root on procfs or sysfs, found at its nearest existing dir, before anything is made there. */
async function refuseVirtualFileSystem(root: string): Promise<void> {
  for (let dir = root; ; dir = path.dirname(dir)) {
    const info = await fs.statfs(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : null));
    if (info === null) return;
    const kind = info && VIRTUAL_FILE_SYSTEMS[info.type];
    if (kind) throw new StoreLayoutError(root, `${dir} is on the kernel's ${kind} file system, which holds no files of ribo's`);
    if (info || dir === path.dirname(dir)) return;
  }
}

async function exists(target: string): Promise<boolean> {
  return fs.access(target).then(() => true, () => false);
}
