/** `ribo inspect CONTAINER`: a container's record in the field names of `docker inspect`. */
import { viewDirs } from '../snapshot/index.js';
import { shortId, type ContainerRecord, type ContainerStore } from './containers.js';
import { isRestarting } from './restart-policy.js';
import { DEFAULT_SHM_BYTES } from './limit-options.js';
import { RLIM_INFINITY } from '../runtime/rlimits.js';

/** docker's NetworkMode: the mode, a network's name, or container:ID. */
export function networkMode(record: ContainerRecord): string {
  if (record.plan.spec.attachment) return record.plan.spec.attachment.network;
  if (record.plan.networkContainer) return `container:${record.plan.networkContainer}`;
  return record.plan.spec.network;
}

export interface ContainerInspection {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: ContainerRecord['status'];
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    /** The container's first process as seen from the host; 0 when it does not run. */
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
    /** ribo's own: the process that holds the container's mount and waits for it. */
    MonitorPid: number;
  };
  Image: string;
  ImageName: string;
  LogPath: string;
  Driver: string;
  Runtime: string;
  /** How many times the --restart policy restarted it. */
  RestartCount: number;
  HostConfig: {
    AutoRemove: boolean;
    NetworkMode: string;
    PortBindings: PortMap;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    /** docker's: bytes; 64 MiB unless --shm-size. */
    ShmSize: number;
    /** --ulimit, as docker shows it (-1: unlimited); null without. */
    Ulimits: Array<{ Name: string; Soft: number; Hard: number }> | null;
    GroupAdd: string[] | null;
  };
  NetworkSettings: { Ports: PortMap };
  GraphDriver: { Name: string; Data: { LowerDir: string; UpperDir: string; MergedDir: string; WorkDir: string } };
  /** docker's Mounts: binds, tmpfs and volumes (Name set), as the container gets them. */
  Mounts: Array<{ Type: string; Name?: string; Source: string; Destination: string; Driver?: string; Mode: string; RW: boolean }>;
  Config: { Hostname: string; User: string; Env: string[]; Cmd: string[]; WorkingDir: string; Image: string; Labels: Record<string, string>; StopSignal?: string; StopTimeout?: number; Tty: boolean };
}

/** Docker's "never" time, for StartedAt/FinishedAt of what has not happened. */
const NEVER = '0001-01-01T00:00:00Z';

type PortMap = Record<string, { HostIp: string; HostPort: string }[]>;

function ulimits(record: ContainerRecord): ContainerInspection['HostConfig']['Ulimits'] {
  const shown = (n: number) => (n >= RLIM_INFINITY ? -1 : n);
  const list = record.plan.spec.rlimits?.map((l) => ({ Name: l.type.slice('RLIMIT_'.length).toLowerCase(), Soft: shown(l.soft), Hard: shown(l.hard) }));
  return list?.length ? list : null;
}

export function inspectContainer(containers: ContainerStore, record: ContainerRecord): ContainerInspection {
  const dir = containers.dirOf(record.id);
  const view = viewDirs({ lowers: record.plan.lowers, dir });
  const running = record.status === 'running';
  return {
    Id: record.id,
    Name: `/${record.name}`,
    Created: record.created,
    Path: record.command[0] ?? '',
    Args: record.command.slice(1),
    State: {
      Status: record.status,
      Running: running,
      Paused: false,
      Restarting: isRestarting(record),
      OOMKilled: false,
      Dead: false,
      Pid: running ? record.pid?.pid ?? 0 : 0,
      ExitCode: record.exitCode ?? 0,
      Error: record.error ?? '',
      StartedAt: record.startedAt ?? NEVER,
      FinishedAt: record.finishedAt ?? NEVER,
      MonitorPid: record.status === 'exited' || record.idle ? 0 : record.monitor.pid,
    },
    Image: record.imageDigest,
    ImageName: record.image,
    LogPath: containers.logPath(record.id),
    Driver: record.driver,
    Runtime: record.runtime,
    RestartCount: record.restartCount ?? 0,
    HostConfig: {
      AutoRemove: record.autoRemove,
      NetworkMode: networkMode(record),
      PortBindings: portBindings(record),
      RestartPolicy: { Name: record.restartPolicy?.name ?? 'no', MaximumRetryCount: record.restartPolicy?.maximumRetryCount ?? 0 },
      ShmSize: record.plan.spec.shmSize ?? DEFAULT_SHM_BYTES,
      Ulimits: ulimits(record),
      GroupAdd: record.plan.groupAdd ?? null,
    },
    NetworkSettings: { Ports: portBindings(record) },
    GraphDriver: {
      Name: record.driver,
      Data: {
        LowerDir: record.plan.lowers.join(':'),
        UpperDir: view.upper,
        MergedDir: view.target,
        WorkDir: view.work,
      },
    },
    Mounts: (record.plan.spec.mounts ?? []).map((mount) => {
      const volume = record.plan.volumes?.find((v) => v.destination === mount.destination);
      const options = mount.options ?? [];
      return {
        Type: volume ? 'volume' : mount.type === 'tmpfs' ? 'tmpfs' : 'bind',
        ...(volume ? { Name: volume.name, Driver: 'local' } : {}),
        Source: mount.source ?? '',
        Destination: mount.destination,
        Mode: options.find((o) => /^[zZ]$/.test(o)) ?? '',
        RW: !options.includes('ro'),
      };
    }),
    Config: {
      Hostname: record.plan.spec.hostname ?? shortId(record.id),
      User: record.plan.user ?? '',
      Env: record.plan.spec.env,
      Cmd: record.command,
      WorkingDir: record.plan.spec.cwd,
      Image: record.image,
      Labels: record.labels ?? {},
      ...(record.stopSignal ? { StopSignal: record.stopSignal } : {}),
      ...(record.stopTimeout !== undefined ? { StopTimeout: record.stopTimeout } : {}),
      Tty: record.plan.spec.terminal === true,
    },
  };
}

/** docker's port map: "80/tcp" -> [{ HostIp, HostPort }]. */
function portBindings(record: ContainerRecord): Record<string, { HostIp: string; HostPort: string }[]> {
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of record.plan.spec.ports ?? []) (ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  return ports;
}
