/**
 * A client of conmon's attach socket, the way podman attaches to a detached
 * container: `attach` in the bundle dir (conmon's --full-attach), a Unix
 * socket of type SOCK_SEQPACKET. Each packet conmon sends is one read of the
 * container's output, its first byte naming the stream (2 stdout, 3 stderr;
 * a terminal's output is all stdout); each packet sent to it is written to
 * the container's stdin (or its terminal). When the client ends its side,
 * conmon stops reading from it (and leaves the container's stdin open when
 * started with --leave-stdin-open).
 *
 * Node.js cannot open a SOCK_SEQPACKET socket, so socat connects it
 * (`UNIX-CONNECT:attach,type=5`, from the bundle dir, as the full path may
 * be longer than a socket address allows). socat's own stdout would lose
 * the packet boundaries, which carry the stream byte, so ribo reads its
 * transcript instead: with `-x` socat writes every transfer to stderr as a
 * header with its length and direction followed by the bytes in hex, one
 * header per packet.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RiboError } from '../errors.js';
import { findExecutable } from '../files/executables.js';

export class AttachError extends RiboError {}

/** conmon's stream bytes at the start of an output packet. */
export const STDOUT_STREAM = 2;
export const STDERR_STREAM = 3;

/** conmon's packets are at most 8 KiB of output plus the stream byte; socat must read each whole. */
const SOCAT_BUFFER = 65536;

export interface TranscriptPacket {
  /** '>' from the first address (the socket) to the second, '<' the other way. */
  direction: '>' | '<';
  data: Buffer;
}

/**
 * Parses socat's `-x` transcript line by line: a header
 * (`> 2026/12/03 13:15:53.000900771  length=11 from=0 to=10`) then the bytes
 * as two-digit hex words over one or more lines. Feed it lines; it calls
 * `onPacket` once a packet's bytes are complete.
 */
export function transcriptParser(onPacket: (packet: TranscriptPacket) => void): (line: string) => void {
  let current: { direction: '>' | '<'; length: number; bytes: number[] } | undefined;
  return (line) => {
    const header = /^([<>]) .*\slength=(\d+) from=\d+ to=\d+\s*$/.exec(line);
    if (header) {
      current = { direction: header[1] as '>' | '<', length: Number(header[2]), bytes: [] };
    } else if (current) {
      for (const word of line.trim().split(/\s+/)) {
        if (current.bytes.length >= current.length || !/^[0-9a-f]{2}$/i.test(word)) break;
        current.bytes.push(Number.parseInt(word, 16));
      }
    }
    if (current && current.bytes.length >= current.length) {
      onPacket({ direction: current.direction, data: Buffer.from(current.bytes) });
      current = undefined;
    }
  };
}

export interface AttachSession {
  /** What is written here goes to the container's stdin (only with `input`). */
  input?: NodeJS.WritableStream;
  /**
   * Resolves once socat is connected to the socket (from then on conmon
   * copies all the container's output to it); rejects if it could not connect.
   */
  connected: Promise<void>;
  /** Resolves when the connection ends (the container exited, or `close` was called). */
  ended: Promise<void>;
  /** Ends the session: the container keeps running. */
  close(): void;
}

/**
 * Connects to conmon's attach socket in `bundleDir` and copies the
 * container's output to `out` and `err` as it comes; with `input`, returns
 * a stream whose writes go to the container.
 */
export async function attachThroughSocket(bundleDir: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream, input: boolean): Promise<AttachSession> {
  const socat = await findExecutable('socat');
  if (!socat) throw new AttachError('ribo attach needs socat to reach conmon\'s attach socket; install it (Debian package socat).');
  const socket = 'UNIX-CONNECT:attach,type=5';
  // Unidirectional without input. With input, ribo never ends socat's stdin while attached: socat ends
  // half a second (its -t) after the socket's end, and the container's stdin is never closed by an attach.
  // -d -d: socat's notices too, among them the one that says the connection is made.
  const args = input ? ['-d', '-d', '-b', String(SOCAT_BUFFER), '-x', socket, 'STDIO'] : ['-d', '-d', '-u', '-b', String(SOCAT_BUFFER), '-x', socket, 'STDOUT'];
  // Its own process group: a Ctrl-C typed in ribo's terminal (without raw mode) is ribo's to pass on, it must not end the attachment.
  const child: ChildProcess = spawn(socat, args, { cwd: bundleDir, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'], detached: true });
  let onConnected: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const problems: string[] = [];
  const parse = transcriptParser(({ direction, data }) => {
    if (direction !== '>' || data.length === 0) return;
    const stream = data[0] === STDERR_STREAM ? err : out;
    if (data[0] === STDOUT_STREAM || data[0] === STDERR_STREAM) stream.write(data.subarray(1));
  });
  const lines = createInterface({ input: child.stderr! });
  lines.on('line', (line) => {
    // socat's own messages (`2026/12/03 … socat[PID] E …`) are not transcript lines.
    if (/ socat\[\d+\] [EWF] /.test(line)) problems.push(line.replace(/^.* socat\[\d+\] [EWF] /, ''));
    else if (/ socat\[\d+\] [NID] /.test(line)) {
      if (/ starting data transfer loop/.test(line)) onConnected();
    } else parse(line);
  });
  const ended = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new AttachError(`could not run socat to attach: ${error.message}`)));
    lines.once('close', () => {
      if (child.exitCode !== null || child.signalCode !== null) finish();
      else child.once('exit', finish);
    });
    function finish() {
      if (child.exitCode && child.exitCode !== 0 && problems.length > 0) {
        reject(new AttachError(`could not attach through ${bundleDir}/attach: ${problems.join('; ')}`));
      } else resolve();
    }
  });
  const stdin = child.stdin ?? undefined;
  stdin?.on('error', () => undefined); // the connection is gone
  // Ended before connecting: the caller waiting on `connected` learns why.
  const connectedOrFailed = Promise.race([connected, ended.then(() => {
    throw new AttachError(`could not attach through ${bundleDir}/attach: socat ended before it connected`);
  })]);
  connectedOrFailed.catch(() => undefined);
  return {
    ...(stdin ? { input: stdin } : {}),
    connected: connectedOrFailed,
    ended,
    close: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
