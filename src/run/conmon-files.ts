/**
 * Where conmon keeps its files for one container (exit code, sockets, its
 * pid, its diagnostics), and the exit code it recorded. Shared by the start
 * under conmon, its clean-up, the foreground terminal session and the
 * recovery of a container whose monitor is gone: conmon's exit file is the
 * one account of how the container ended that outlives both.
 */
import path from 'node:path';
import { conmonExitCode } from '../runtime/conmon.js';
import type { ContainerRecord, ContainerStore } from './containers.js';

/** Where conmon's files of one container are: exit code, sockets, its pid, its diagnostics. */
export function conmonDirs(containers: ContainerStore, id: string) {
  const dir = path.join(containers.dirOf(id), 'conmon');
  return { dir, exitDir: path.join(dir, 'exit'), socketDir: path.join(dir, 'sockets'), pidFile: path.join(dir, 'conmon.pid'), diagnostics: path.join(dir, 'conmon.log') };
}

/** The exit code conmon wrote for `record`'s container; undefined when it wrote none (never ran under conmon, or not ended). */
export function conmonRecordedExit(containers: ContainerStore, record: ContainerRecord): Promise<number | undefined> {
  return conmonExitCode(conmonDirs(containers, record.id).exitDir, record.runtimeId);
}
