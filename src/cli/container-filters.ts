/**
 * `ribo ps --filter`, as docker takes it: id=, name=, status=, exited=,
 * ancestor=, before=, since=, volume=, network=, publish=, label=. Different keys
 * must all match; values of one key any. A status= filter lists exited
 * containers without -a, as docker's does.
 */
import { UsageError } from '../errors.js';
import type { Digest } from '../oci/image.js';
import type { ContainerRecord } from '../run/containers.js';
import { networkMode } from '../run/inspect.js';
import { isRestarting } from '../run/restart-policy.js';
import { labelMatcher } from './label-filter.js';

export type ContainerFilter = (record: ContainerRecord) => boolean;

const KEYS = ['id', 'name', 'status', 'exited', 'ancestor', 'before', 'since', 'volume', 'network', 'publish', 'label'] as const;
type FilterKey = (typeof KEYS)[number];
/** docker's container states; ribo's containers are never paused, being removed or dead, so those match none. */
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'] as const;

/** What the filters need from outside the records: an image's identity (ancestor=) and another container (before=, since=). */
export interface FilterContext {
  records: ContainerRecord[];
  /** The manifest digest and layer diffIDs of an image in the store, or of a container's image; undefined when the store lacks it. */
  imageLayers: (ref: string) => Promise<{ digest: Digest; diffIDs: Digest[] } | undefined>;
}

export interface ContainerFilters {
  matches: ContainerFilter;
  /** A status= filter was given: exited containers are candidates without -a. */
  listsAll: boolean;
}

export async function containerFilters(values: string[], context: FilterContext): Promise<ContainerFilters> {
  const byKey = new Map<FilterKey, ContainerFilter[]>();
  for (const value of values) {
    const equals = value.indexOf('=');
    const key = value.slice(0, equals) as FilterKey;
    if (equals < 0 || !KEYS.includes(key)) {
      throw new UsageError(`--filter ${value}: ribo ps knows ${KEYS.map((k) => `${k}=`).join(', ')}.`);
    }
    byKey.set(key, [...(byKey.get(key) ?? []), await oneFilter(key, value.slice(equals + 1), value, context)]);
  }
  return {
    matches: (record) => [...byKey.values()].every((alternatives) => alternatives.some((filter) => filter(record))),
    listsAll: byKey.has('status'),
  };
}

async function oneFilter(key: FilterKey, argument: string, given: string, context: FilterContext): Promise<ContainerFilter> {
  switch (key) {
    case 'id':
      return (record) => record.id.startsWith(argument);
    case 'name':
      // docker matches names as a regular expression, so a plain word matches part of a name.
      return nameFilter(argument, given);
    case 'status':
      if (!(STATUSES as readonly string[]).includes(argument)) throw new UsageError(`--filter ${given}: status is one of ${STATUSES.join(', ')}.`);
      return (record) => shownStatus(record) === argument;
    case 'exited': {
      if (!/^-?\d+$/.test(argument)) throw new UsageError(`--filter ${given}: exited takes an exit code, e.g. exited=0.`);
      return (record) => record.status === 'exited' && !isRestarting(record) && record.exitCode === Number(argument);
    }
    case 'ancestor':
      return ancestorFilter(argument, given, context);
    case 'before':
    case 'since': {
      const pivot = context.records.find((r) => r.name === argument || r.id.startsWith(argument));
      if (!pivot) throw new UsageError(`--filter ${given}: no container is named ${argument} or has that id; \`ribo ps -a\` lists them.`);
      return (record) => (key === 'before' ? record.created < pivot.created : record.created > pivot.created);
    }
    case 'volume':
      return (record) =>
        (record.plan.volumes ?? []).some((v) => v.name === argument || v.destination === argument) ||
        (record.plan.spec.mounts ?? []).some((m) => m.destination === argument || m.source === argument);
    case 'network':
      return (record) => {
        const mode = networkMode(record);
        // `--network bridge` (docker's default network) is ribo's user-mode network.
        return mode === argument || (argument === 'bridge' && (mode === 'pasta' || mode === 'slirp4netns'));
      };
    case 'publish':
      return publishFilter(argument, given);
    case 'label': {
      // The container's labels: its image's, then --label's (docker keeps both in the container's config).
      const matches = labelMatcher(argument);
      return (record) => matches(record.labels);
    }
  }
}

function shownStatus(record: ContainerRecord): string {
  return isRestarting(record) ? 'restarting' : record.status;
}

function nameFilter(pattern: string, given: string): ContainerFilter {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (error) {
    throw new UsageError(`--filter ${given}: not a regular expression (${(error as Error).message}).`);
  }
  return (record) => regex.test(record.name);
}

/** The image itself (by name, id or digest), or an image built on it: one whose layers start with all of its layers. */
async function ancestorFilter(ref: string, given: string, context: FilterContext): Promise<ContainerFilter> {
  const ancestor = await context.imageLayers(ref);
  if (!ancestor) throw new UsageError(`--filter ${given}: the store has no image ${ref}; \`ribo images\` lists them.`);
  const layersOf = new Map<string, Digest[] | undefined>();
  for (const record of context.records) {
    if (!layersOf.has(record.imageDigest)) layersOf.set(record.imageDigest, (await context.imageLayers(record.imageDigest))?.diffIDs);
  }
  return (record) => {
    if (record.imageDigest === ancestor.digest) return true;
    const layers = layersOf.get(record.imageDigest);
    return ancestor.diffIDs.length > 0 && layers !== undefined && layers.length >= ancestor.diffIDs.length && ancestor.diffIDs.every((d, i) => layers[i] === d);
  };
}

/** PORT[/PROTO] or FIRST-LAST[/PROTO]: a published container port (docker's publish=). */
function publishFilter(argument: string, given: string): ContainerFilter {
  const match = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(argument);
  if (!match) throw new UsageError(`--filter ${given}: publish takes PORT[/tcp|udp] or FIRST-LAST[/tcp|udp], e.g. publish=80 or publish=8000-8080/tcp.`);
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  const protocol = match[3] ?? 'tcp';
  return (record) => (record.plan.spec.ports ?? []).some((p) => p.protocol === protocol && p.containerPort >= first && p.containerPort <= last);
}
