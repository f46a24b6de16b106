/**
 * Extended attributes through the `attr` command-line tools: one `getfattr -R` per
 * tree when writing a layer and one `setfattr --restore` per unpack. Node has no
 * xattr API; docs/layer-format.md has the measurements behind this choice.
 */
import { spawn } from 'node:child_process';
import { LayerToolError } from './errors.js';

export type Xattrs = Map<string, Buffer>;

/** Prefixes of attributes that belong to an overlay implementation, never to image content. */
const OVERLAY_PRIVATE_PREFIXES = ['user.overlay.', 'trusted.overlay.', 'user.fuseoverlayfs.', 'user.containers.override_'];

export function isOverlayPrivateXattr(name: string): boolean {
  return OVERLAY_PRIVATE_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * Whether an attribute is image content that belongs in a layer (and may be applied
 * from one): file capabilities and user attributes. SELinux labels, ACLs and trusted.*
 * describe the host, and overlay-private ones would change how overlay reads a lower dir.
 */
export function isLayerXattr(name: string): boolean {
  if (isOverlayPrivateXattr(name)) return false;
  return name === 'security.capability' || (name.startsWith('user.') && name.length > 'user.'.length);
}

/** The opaque marker overlay implementations set on a directory in an upper dir. */
export const OPAQUE_XATTRS = ['user.overlay.opaque', 'trusted.overlay.opaque', 'user.fuseoverlayfs.opaque'];
/** The attribute ribo writes to mark a lower dir opaque (kernel overlay with userxattr and fuse-overlayfs both read it). */
export const LOWER_OPAQUE_XATTR = 'user.overlay.opaque';

/** Attributes that mean an upper dir entry is not a self-contained copy (redirect_dir, metacopy). */
export function isIncompleteCopyXattr(name: string): boolean {
  return /^(user|trusted)\.overlay\.(redirect|metacopy)$/.test(name);
}

/** A regular file carrying this attribute is a whiteout (overlay "xwhiteout", Linux 6.7+). */
export function isXwhiteoutXattr(name: string): boolean {
  return name === 'user.overlay.whiteout' || name === 'trusted.overlay.whiteout';
}

function unescapeName(escaped: Buffer): Buffer {
  if (!escaped.includes(0x5c)) return escaped;
  const out: number[] = [];
  for (let i = 0; i < escaped.length; i++) {
    const byte = escaped[i]!;
    if (byte === 0x5c && i + 3 < escaped.length && /^[0-7]{3}$/.test(escaped.subarray(i + 1, i + 4).toString('latin1'))) {
      out.push(parseInt(escaped.subarray(i + 1, i + 4).toString('latin1'), 8));
      i += 3;
    } else {
      out.push(byte);
    }
  }
  return Buffer.from(out);
}

/** The quoting getfattr uses and setfattr understands: octal escapes for backslash and anything outside printable ASCII. */
export function escapeName(raw: Buffer): string {
  let out = '';
  for (const byte of raw) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

function decodeValue(text: string): Buffer {
  if (text.startsWith('0s')) return Buffer.from(text.slice(2), 'base64');
  if (text.startsWith('0x')) return Buffer.from(text.slice(2), 'hex');
  if (text.startsWith('"') && text.endsWith('"')) return Buffer.from(text.slice(1, -1), 'latin1');
  return Buffer.from(text, 'latin1');
}

function runTool(tool: string, args: string[], stdin: Buffer | null, onStdout?: (chunk: Buffer) => void): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: [stdin ? 'pipe' : 'ignore', onStdout ? 'pipe' : 'ignore', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (onStdout) child.stdout!.on('data', onStdout);
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(new LayerToolError(tool, error.code === 'ENOENT' ? `"${tool}" is not installed` : error.message, error));
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stderr: Buffer.concat(stderr).toString('utf8') }));
    if (stdin) child.stdin!.end(stdin);
  });
}

export { runTool };

/**
 * Reads the attributes ribo cares about for every file under `root` with one
 * `getfattr -R` run. Keys are paths relative to root ('' for root itself); only
 * files that have at least one matching attribute appear. `keep` filters names
 * while parsing so the map stays small.
 */
export async function readXattrTree(root: string, keep: (name: string) => boolean): Promise<Map<string, Xattrs>> {
  const result = new Map<string, Xattrs>();
  const rootBytes = Buffer.from(root, 'utf8');
  let current: Xattrs | null = null;
  let carry = Buffer.alloc(0);

  const handleLine = (line: Buffer): void => {
    if (line.length === 0) return;
    if (line.subarray(0, 8).toString('latin1') === '# file: ') {
      const path = unescapeName(line.subarray(8));
      let relative: string;
      if (path.equals(rootBytes)) relative = '';
      else if (path.subarray(0, rootBytes.length + 1).equals(Buffer.concat([rootBytes, Buffer.from('/')]))) {
        relative = path.subarray(rootBytes.length + 1).toString('utf8');
      } else throw new LayerToolError('getfattr', `printed a path outside ${root}: ${path.toString('utf8')}`);
      current = new Map();
      result.set(relative, current);
      return;
    }
    const text = line.toString('latin1');
    const equals = text.indexOf('=');
    if (!current || equals <= 0) throw new LayerToolError('getfattr', `printed a line ribo cannot parse: ${JSON.stringify(text)}`);
    const name = unescapeName(line.subarray(0, equals)).toString('utf8');
    if (keep(name)) current.set(name, decodeValue(text.slice(equals + 1)));
  };

  const args = ['-R', '-h', '-d', '-e', 'base64', '--absolute-names', '-m', '^(user\\.|security\\.capability$|trusted\\.overlay\\.)', root];
  const { code, stderr } = await runTool('getfattr', args, null, (chunk) => {
    let data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let newline: number;
    while ((newline = data.indexOf(0x0a)) !== -1) {
      handleLine(data.subarray(0, newline));
      data = data.subarray(newline + 1);
    }
    carry = Buffer.from(data);
  });
  if (carry.length) handleLine(carry);
  if (code !== 0) {
    // A filesystem without xattr support simply has none.
    const problems = stderr.split('\n').filter((line) => line.trim() && !line.includes('Operation not supported'));
    if (problems.length > 0) throw new LayerToolError('getfattr', problems.slice(0, 5).join('; '));
  }
  for (const [path, xattrs] of result) if (xattrs.size === 0) result.delete(path);
  return result;
}

export interface XattrAssignment {
  /** Absolute path; symlinks at the last component are not followed. */
  path: string;
  xattrs: ReadonlyMap<string, Buffer>;
}

/** Sets attributes on many files with a single `setfattr -h --restore` run. */
export async function writeXattrs(assignments: Iterable<XattrAssignment>): Promise<void> {
  const parts: string[] = [];
  for (const { path, xattrs } of assignments) {
    if (xattrs.size === 0) continue;
    parts.push(`# file: ${escapeName(Buffer.from(path, 'utf8'))}\n`);
    for (const [name, value] of xattrs) parts.push(`${escapeName(Buffer.from(name, 'utf8'))}=0s${value.toString('base64')}\n`);
    parts.push('\n');
  }
  if (parts.length === 0) return;
  const { code, stderr } = await runTool('setfattr', ['-h', '--restore=-'], Buffer.from(parts.join(''), 'latin1'));
  if (code !== 0) throw new LayerToolError('setfattr', stderr.trim() || `exit status ${code}`);
}
