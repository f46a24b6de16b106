/**
 * Checks Docker applies to some values only after expansion (EXPOSE ports,
 * STOPSIGNAL names), so they run in expandCommand rather than at parse time.
 */
import { LocalSyntaxError } from './errors.js';

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${i + 1}`),
]);

/** A signal name (with or without SIG, any case) or a non-zero number. */
export function validateSignal(signal: string): void {
  if (/^[+-]?\d+$/.test(signal)) {
    if (Number(signal) !== 0) return;
  } else if (SIGNALS.has(signal.toUpperCase().replace(/^SIG/, ''))) {
    return;
  }
  throw new LocalSyntaxError(`Invalid signal: ${signal}`, 'use a name like SIGTERM or SIGQUIT, or a signal number');
}

function parsePortRange(text: string): [number, number] | undefined {
  const parts = text.split('-');
  if (parts.length > 2 || parts.some((p) => !/^\d+$/.test(p) || Number(p) > 65535)) return undefined;
  const [start, end = start] = parts.map(Number) as [number, number?];
  return end! < start ? undefined : [start, end!];
}

/** An EXPOSE word: [[ip:]hostPort:]containerPort[-end][/tcp|udp|sctp]. */
export function validatePort(spec: string): void {
  const parts = spec.split(':');
  const last = parts[parts.length - 1]!;
  const hostPort = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const slash = last.split('/');
  const containerPort = slash[0]!;
  const proto = slash.length > 1 && slash[1] !== '' ? slash[1]! : 'tcp';
  if (containerPort === '') throw new LocalSyntaxError(`no port specified: ${spec}<empty>`);
  const container = parsePortRange(containerPort);
  if (!container) throw new LocalSyntaxError(`invalid containerPort: ${containerPort}`, 'EXPOSE takes ports like 80, 8000-8010 or 53/udp');
  if (hostPort !== '') {
    const host = parsePortRange(hostPort);
    if (!host) throw new LocalSyntaxError(`invalid hostPort: ${hostPort}`);
    if (host[1] - host[0] !== container[1] - container[0]) {
      throw new LocalSyntaxError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) {
    throw new LocalSyntaxError(`invalid proto: ${proto}`, 'use tcp, udp or sctp');
  }
}

const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** ADD --checksum: an OCI digest such as sha256:<64 hex digits>. */
export function validateChecksum(checksum: string): void {
  const colon = checksum.indexOf(':');
  if (colon <= 0) throw new LocalSyntaxError(`invalid checksum digest format: ${checksum}`, 'use --checksum=sha256:<64 hex digits>');
  const algorithm = checksum.slice(0, colon);
  const hex = checksum.slice(colon + 1);
  const length = DIGEST_HEX_LENGTH[algorithm];
  if (length === undefined) throw new LocalSyntaxError(`unsupported digest algorithm: ${algorithm}`, 'use sha256, sha384 or sha512');
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) throw new LocalSyntaxError(`invalid checksum digest length or characters: ${checksum}`);
}
