/**
 * `ribo images --filter` and the name argument, as docker takes them:
 * dangling=true|false, reference=PATTERN (a glob on NAME or NAME:TAG),
 * before=IMAGE, since=IMAGE (created earlier or later than that image),
 * label=KEY or label=KEY=VALUE. Different keys must all match; values of
 * one key any.
 */
import { labelMatcher } from './label-filter.js';
import { UsageError } from '../errors.js';
import type { ListedImage } from '../image/list.js';

export type ImageFilter = (image: ListedImage) => boolean;

const KEYS = ['dangling', 'reference', 'before', 'since', 'label'] as const;
type FilterKey = (typeof KEYS)[number];

/** `resolveCreated` gives the CREATED time of the image a before= or since= names. */
export async function imageFilters(values: string[], resolveCreated: (image: string) => Promise<Date | undefined>): Promise<ImageFilter> {
  const byKey = new Map<FilterKey, ImageFilter[]>();
  for (const value of values) {
    const equals = value.indexOf('=');
    const key = value.slice(0, equals) as FilterKey;
    const argument = value.slice(equals + 1);
    if (equals < 0 || !KEYS.includes(key)) throw new UsageError(`--filter ${value}: ribo images knows ${KEYS.map((k) => `${k}=`).join(', ')}.`);
    byKey.set(key, [...(byKey.get(key) ?? []), await oneFilter(key, argument, value, resolveCreated)]);
  }
  return (image) => [...byKey.values()].every((alternatives) => alternatives.some((filter) => filter(image)));
}

async function oneFilter(key: FilterKey, argument: string, given: string, resolveCreated: (image: string) => Promise<Date | undefined>): Promise<ImageFilter> {
  switch (key) {
    case 'dangling':
      if (argument !== 'true' && argument !== 'false') throw new UsageError(`--filter ${given}: dangling takes true or false.`);
      return (image) => image.dangling === (argument === 'true');
    case 'reference':
      return referenceFilter(argument);
    case 'label': {
      const matches = labelMatcher(argument);
      return (image) => matches(image.labels);
    }
    case 'before':
    case 'since': {
      const pivot = (await resolveCreated(argument))?.getTime();
      if (pivot === undefined) throw new UsageError(`--filter ${given}: that image has no creation time to compare with.`);
      return (image) => image.shownCreated !== undefined && (key === 'before' ? image.shownCreated.getTime() < pivot : image.shownCreated.getTime() > pivot);
    }
  }
}

/** A glob (`*`, `?`, `[...]`, none crossing a "/") on REPOSITORY:TAG or on REPOSITORY alone, as docker matches references. */
export function referenceFilter(pattern: string): ImageFilter {
  const regex = globRegex(pattern);
  return (image) => !image.dangling && (regex.test(`${image.repository}:${image.tag}`) || regex.test(image.repository));
}

function globRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new UsageError(`--filter reference=${pattern}: a "[" is not closed.`);
      source += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else source += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
