import { RiboError } from '../errors.js';

/** Base class for everything that goes wrong while reading, writing or applying a layer. */
export class LayerError extends RiboError {}

/** The archive ends in the middle of a header or of an entry's content. */
export class TruncatedArchiveError extends LayerError {
  constructor(context: string) {
    super(`The layer archive is truncated (${context}); the file or download is incomplete. Fetch or export it again.`);
  }
}

/** The bytes are not a tar archive ribo can read (bad checksum, bad field, bad gzip data...). */
export class CorruptArchiveError extends LayerError {
  constructor(detail: string, cause?: unknown) {
    super(`The layer archive is corrupt: ${detail}.`, { cause });
  }
}

/** A well-formed archive uses a feature ribo does not support (sparse files, ...). */
export class UnsupportedArchiveError extends LayerError {}

/**
 * An entry would be written outside the target directory: an absolute path, a `..`
 * component, a write through a symlink that leaves the root, or a hardlink to a
 * file outside it. Nothing outside the target is touched when this is thrown.
 */
export class UnsafePathError extends LayerError {
  constructor(readonly entryPath: string, reason: string) {
    super(`Refusing layer entry "${entryPath}": ${reason}. The archive tries to write outside the directory it is unpacked into.`);
  }
}

/** An archive entry conflicts with what is on disk in a way tar semantics do not resolve. */
export class EntryConflictError extends LayerError {
  constructor(readonly entryPath: string, reason: string) {
    super(`Cannot apply layer entry "${entryPath}": ${reason}.`);
  }
}

/** The overlay upper directory uses something that cannot be expressed as an OCI layer. */
export class UnsupportedUpperDirError extends LayerError {
  constructor(readonly entryPath: string, reason: string) {
    super(`Cannot turn "${entryPath}" into a layer: ${reason}.`);
  }
}

/** A file in the upper directory changed size while it was being archived. */
export class SourceChangedError extends LayerError {
  constructor(readonly entryPath: string) {
    super(`"${entryPath}" changed while the layer was being written; make sure nothing writes to the container's upper directory while ribo commits it.`);
  }
}

/** The Debian package each helper program comes from. */
const TOOL_PACKAGES: Record<string, string> = { getfattr: 'attr', setfattr: 'attr', zstd: 'zstd', igzip: 'isal' };

/** The package to install for a helper program, by its name. */
export function toolPackage(tool: string): string {
  return TOOL_PACKAGES[tool] ?? 'coreutils';
}

/** A helper program (getfattr, setfattr, mknod, mkfifo, zstd, igzip) is missing or failed. */
export class LayerToolError extends LayerError {
  constructor(tool: string, detail: string, cause?: unknown) {
    const hint = ` (package "${toolPackage(tool)}")`;
    super(`${tool}${hint} failed: ${detail}`, { cause });
  }
}

/**
 * A layer's uncompressed bytes do not hash to the diffID the image's config
 * claims for it. Unpacked layers are shared by diffID, so such a layer is never
 * kept: it could plant its files into every image that really has that diffID.
 */
export class DiffIDMismatchError extends LayerError {
  constructor(readonly expected: string, readonly actual: string, readonly where: string) {
    super(
      `${where}: the layer's uncompressed content is ${actual}, but the image's config says ${expected}. ` +
        `The image is damaged or forged to pass its layer off as another one; nothing was unpacked. ` +
        `Remove it with \`ribo rmi\` and get it again from a source you trust.`,
    );
  }
}

/** An entry owned by a uid or gid that the user namespace ribo unpacks in does not map. */
export class UnmappedOwnerError extends LayerError {
  constructor(readonly entryPath: string, uid: number, gid: number, mapped: { uids: number; gids: number }) {
    super(
      `Layer entry "${entryPath}" is owned by uid ${uid} and gid ${gid}, but only uids 0 to ${mapped.uids - 1} and gids 0 to ${mapped.gids - 1} are mapped here. ` +
        `Give your user a larger range in /etc/subuid and /etc/subgid (as root: usermod --add-subuids FIRST-LAST --add-subgids FIRST-LAST USER; rootless podman needs the same), or re-create the archive with owners in that range.`,
    );
  }
}

/** The worker thread that unpacks layers (apply-worker.ts) stopped before this layer was done. */
export class UnpackWorkerError extends LayerError {
  constructor(where: string, cause: Error) {
    super(`${where}: the thread unpacking it stopped (${cause.message}); nothing of the layer was kept. Pull again; if it happens again, report it as a bug.`, { cause });
  }
}
