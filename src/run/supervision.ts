/**
 * What supervising a container takes and gives, shared by the supervisor
 * (supervise.ts) and the foreground terminal session under conmon
 * (terminal-session.ts), which supervise.ts hands -t runs to.
 */
import type { ContainerSpec } from '../runtime/bundle.js';
import type { MountSpec, Snapshotter, View } from '../snapshot/index.js';
import type { OciRuntime } from '../runtime/oci-runtime.js';
import { RiboError } from '../errors.js';
import type { ContainerRecord, ContainerStore } from './containers.js';

export interface SupervisorContext {
  driver: Snapshotter;
  runtime: OciRuntime;
  containers: ContainerStore;
  /** Called once the container runs: the supervisor no longer needs the image store (Store.leave). */
  leaveStore?: () => Promise<void>;
  /** In the foreground: ribo's command line that ends and records the container should ribo be killed (orphan-watch.ts). */
  orphanCleanup?: (id: string) => string[];
  /** ribo's `container-cleanup ID` command line: with it, a foreground container with a terminal runs under conmon (terminal-session.ts). */
  conmonCleanup?: (id: string) => string[];
}

/** How a supervised container ran: what a run plan repeats. */
export interface SupervisedRun {
  exitCode: number;
  /** The record as it was while the container ran. */
  record: ContainerRecord;
  /** The spec its bundle was written from. */
  bundleSpec: ContainerSpec;
  /** Its root file system's mount, and what that snapshotter can do. */
  mount: MountSpec;
  capabilities: View['capabilities'];
}

/** A container that could not be started (the runtime's or conmon's reason in its message). */
export class ContainerStartError extends RiboError {}
