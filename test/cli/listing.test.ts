import { humanDuration, preciseSize } from '../../src/cli/format.js';
import { imageFilters, referenceFilter } from '../../src/cli/image-filters.js';
import type { ListedImage } from '../../src/image/list.js';

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

describe('docker\'s words for durations and sizes', () => {
  it('says how long ago as docker does', () => {
    expect(humanDuration(400)).toBe('Less than a second');
    expect(humanDuration(1 * SECOND)).toBe('1 second');
    expect(humanDuration(45 * SECOND)).toBe('45 seconds');
    expect(humanDuration(61 * SECOND)).toBe('About a minute');
    expect(humanDuration(5 * 60 * SECOND)).toBe('5 minutes');
    expect(humanDuration(HOUR)).toBe('About an hour');
    expect(humanDuration(30 * HOUR)).toBe('30 hours');
    expect(humanDuration(3 * DAY)).toBe('3 days');
    expect(humanDuration(15 * DAY)).toBe('2 weeks');
    expect(humanDuration(90 * DAY)).toBe('3 months');
    expect(humanDuration(Date.UTC(2026, 0, 1))).toBe('56 years');
  });
  it('prints sizes with three significant digits', () => {
    expect(preciseSize(999)).toBe('999B');
    expect(preciseSize(2_140_000)).toBe('2.14MB');
    expect(preciseSize(72_834_000)).toBe('72.8MB');
    expect(preciseSize(123_400_000)).toBe('123MB');
    expect(preciseSize(5_500_000)).toBe('5.5MB');
  });
});

function image(repository: string, tag: string, extra: Partial<ListedImage> = {}): ListedImage {
  return { repository, tag, digest: 'sha256:00', size: 0, labels: {}, dangling: repository === '<none>', platforms: ['linux/amd64'], ...extra };
}

describe('images --filter', () => {
  const images = [
    image('hello', 'latest', { labels: { team: 'a' }, shownCreated: new Date(3000) }),
    image('localhost/app', '1', { shownCreated: new Date(2000) }),
    image('<none>', '<none>', { shownCreated: new Date(1000) }),
  ];
  const names = async (values: string[]) => {
    const filter = await imageFilters(values, async (name) => (name === 'app' ? new Date(2000) : undefined));
    return images.filter(filter).map((i) => `${i.repository}:${i.tag}`);
  };
  it('filters as docker does', async () => {
    expect(await names(['dangling=true'])).toEqual(['<none>:<none>']);
    expect(await names(['dangling=false'])).toEqual(['hello:latest', 'localhost/app:1']);
    expect(await names(['reference=hel*'])).toEqual(['hello:latest']);
    expect(await names(['reference=*/app:1'])).toEqual(['localhost/app:1']);
    expect(await names(['reference=hello', 'reference=localhost/*'])).toEqual(['hello:latest', 'localhost/app:1']);
    expect(await names(['label=team'])).toEqual(['hello:latest']);
    expect(await names(['label=team=b'])).toEqual([]);
    expect(await names(['before=app'])).toEqual(['<none>:<none>']);
    expect(await names(['since=app'])).toEqual(['hello:latest']);
    expect(await names(['since=app', 'label=team=a'])).toEqual(['hello:latest']);
  });
  it('refuses unknown keys, naming what it knows', async () => {
    await expect(names(['size=1'])).rejects.toThrow(/--filter size=1: ribo images knows dangling=, reference=/);
  });
  it('matches a glob within path components only', () => {
    expect(referenceFilter('*')(images[1]!)).toBe(false);
    expect(referenceFilter('*')(images[0]!)).toBe(true);
  });
});
