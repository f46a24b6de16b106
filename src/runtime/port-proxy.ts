/**
 * Published TCP ports carried by socat, one listener per port, as podman's
 * rootlessport does in Go: a host-side listener, and for each connection a
 * process that enters the container's user and network namespaces (nsenter)
 * and dials the port on the container's loopback, copying with 1 MiB
 * buffers. Measured faster than pasta's spliced path (docs/architecture.md),
 * and it needs no pasta at all for a network between containers.
 * UDP stays with pasta (network.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { findExecutable } from '../files/executables.js';

/** A published TCP port (network.ts's PortMapping, without importing it back). */
interface ProxiedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
}

/** Where the listeners' process ids and messages go, in the container's network dir. */
function proxyFiles(netDir: string) {
  return { pids: path.join(netDir, 'proxy.pids'), log: path.join(netDir, 'proxy.log') };
}

/** socat's address syntax gives ':' ',' '!' and quotes a meaning; paths with them stay with pasta. */
const PLAIN_PATH = /^[A-Za-z0-9._/+@=-]+$/;

/** Whether socat can carry these TCP ports for namespaces bound at these files. */
export async function canProxy(nsFiles: string[]): Promise<boolean> {
  if (!nsFiles.every((file) => PLAIN_PATH.test(file))) return false;
  return Boolean((await findExecutable('socat')) && (await findExecutable('nsenter')));
}

function listenAddress(p: ProxiedPort): string {
  const options = `${p.hostPort},reuseaddr,fork,backlog=4096`;
  if (p.hostIp.includes(':')) return `TCP6-LISTEN:${options},bind=[${p.hostIp}],ipv6only=1`;
  if (p.hostIp && p.hostIp !== '0.0.0.0') return `TCP4-LISTEN:${options},bind=${p.hostIp}`;
  // As pasta and docker: every address, IPv6 too where the host has it.
  return existsSync('/proc/net/if_inet6') ? `TCP6-LISTEN:${options},ipv6only=0` : `TCP4-LISTEN:${options}`;
}

/** The per-connection side: runs in the container's namespaces with the accepted socket as stdio. */
function dialCommand(p: ProxiedPort, userns: string, netns: string): string {
  return `EXEC:nsenter --user=${userns} --net=${netns} --preserve-credentials socat -b 1048576 STDIO TCP4\\:127.0.0.1\\:${p.containerPort},nofork`;
}

/** Whether something listens on the host's TCP port `port` (any address). */
async function listening(port: number): Promise<boolean> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    // st 0A is LISTEN.
    if (text.split('\n').some((line) => line.split(/\s+/)[2]?.endsWith(hex.trim()) && line.split(/\s+/)[4] === '0A')) return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts one socat listener per TCP port; throws (and stops what it started) when one cannot listen. */
export async function startPortProxies(netDir: string, ports: ProxiedPort[], userns: string, netns: string, fail: (message: string) => Error): Promise<void> {
  const f = proxyFiles(netDir);
  for (const p of ports) {
    if (await listening(p.hostPort)) {
      await stopPortProxies(netDir);
      throw fail(`-p ${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}:${p.containerPort}: host port ${p.hostPort} is already in use; pick another host port, or leave it out for a free one.`);
    }
    const log = await open(f.log, 'a');
    const child = spawn('socat', ['-lf', f.log, listenAddress(p), dialCommand(p, userns, netns)], { stdio: ['ignore', 'ignore', log.fd], detached: true });
    await log.close();
    let exited = false;
    child.once('exit', () => { exited = true; });
    child.once('error', () => { exited = true; });
    child.unref();
    if (child.pid) await appendFile(f.pids, `${child.pid}\n`);
    // Ready once the host port listens; a bind failure ends socat at once.
    for (let i = 0; i < 500 && !exited && !(await listening(p.hostPort)); i++) await sleep(10);
    await sleep(20);
    if (exited || !child.pid) {
      const text = (await readFile(f.log, 'utf8').catch(() => '')).trim().split('\n').slice(-1)[0];
      await stopPortProxies(netDir);
      throw fail(`-p ${p.hostPort}:${p.containerPort}: socat could not listen on the host port: ${text || 'no message'}. Pick another host port.`);
    }
  }
}

/** Ends the listeners and the connections they carry (each listener leads its process group). */
export async function stopPortProxies(netDir: string): Promise<void> {
  const text = await readFile(proxyFiles(netDir).pids, 'utf8').catch(() => '');
  for (const pid of text.split('\n').map(Number).filter((n) => n > 0)) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
