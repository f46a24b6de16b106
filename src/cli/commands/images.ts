import { listStoreImages, type ListedImage } from '../../image/list.js';
import type { CommandModule } from '../command.js';
import { formatPlatform, hostPlatform } from '../../oci/platform.js';
import { openStore, type GlobalOptions } from '../session.js';
import { dockerTime, formatListing, humanDuration, preciseSize } from '../format.js';
import { asList } from '../options.js';
import { imageFilters, referenceFilter } from '../image-filters.js';

/** The fields `--format` templates see, named as docker names them. */
interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  /** ribo's own: os/arch of each image under the name (several for a multi-platform image). */
  Platforms: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

const HEADERS: Record<keyof ImageRow, string> = {
  Containers: 'CONTAINERS', CreatedAt: 'CREATED AT', CreatedSince: 'CREATED', Digest: 'DIGEST', ID: 'IMAGE ID', Platforms: 'PLATFORMS', Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE', Size: 'SIZE', Tag: 'TAG', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE',
};

function imageRow(image: ListedImage, now: number, full: boolean): ImageRow {
  const id = image.id ?? image.digest;
  const size = preciseSize(image.size);
  return {
    Containers: 'N/A',
    CreatedAt: image.shownCreated ? dockerTime(image.shownCreated) : '',
    CreatedSince: image.shownCreated ? `${humanDuration(now - image.shownCreated.getTime())} ago` : 'N/A',
    Digest: image.digest,
    Platforms: image.platforms.join(','),
    ID: full ? id : id.slice('sha256:'.length, 'sha256:'.length + 12),
    Repository: image.repository,
    SharedSize: 'N/A',
    Size: size,
    Tag: image.tag,
    UniqueSize: 'N/A',
    VirtualSize: size,
  };
}

export const imagesCommand: CommandModule = {
  name: 'images',
  usage: 'images [reference]',
  describe: 'List the images in the store',
  needsNamespace: false,
  builder: (y) =>
    y
      .positional('reference', { type: 'string', describe: 'Only images of this NAME[:TAG] (a glob, as --filter reference=)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print image ids only' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Also list images whose tags were removed with rmi (until `ribo prune`)' })
      .option('digests', { type: 'boolean', default: false, describe: 'Show the manifest digest (as a registry names the image)' })
      .option('trunc', { type: 'boolean', default: true, describe: 'Shorten image ids (--no-trunc shows them whole)' })
      .option('filter', { array: true, alias: 'f', type: 'string', describe: 'dangling=true|false, reference=PATTERN, before=IMAGE, since=IMAGE, label=KEY[=VALUE]; may be repeated' })
      .option('format', { type: 'string', describe: 'table, json, or a Go template: {{.Repository}}:{{.Tag}}, table {{.ID}}\\t{{.Size}}, {{json .}}' }),
  handler: async (argv, env) => {
    const store = await openStore(argv as GlobalOptions, env);
    const filterValues = asList(argv.filter);
    // Untagged images are index.json entries (store/index-file.ts); -a also looks through blobs/ for manifests no entry names.
    const all = Boolean(argv.all);
    const images = await listStoreImages(store, { all });
    const createdOf = async (name: string) => {
      const image = await store.resolveImage(name);
      return images.find((i) => i.digest === image.manifestDescriptor.digest)?.shownCreated;
    };
    const filter = await imageFilters(filterValues, createdOf);
    const byName = argv.reference === undefined ? () => true : referenceFilter(String(argv.reference));
    const now = Date.now();
    // Newest first, as docker lists them.
    const shown = images
      .filter((image) => filter(image) && byName(image))
      .sort((a, b) => (b.shownCreated?.getTime() ?? 0) - (a.shownCreated?.getTime() ?? 0) || `${a.repository}:${a.tag}`.localeCompare(`${b.repository}:${b.tag}`));
    const full = argv.trunc === false;
    const rows = shown.map((image) => imageRow(image, now, full));
    if (argv.quiet) {
      process.stdout.write(rows.map((row) => `${row.ID}\n`).join(''));
      return 0;
    }
    // PLATFORMS only when some image is not simply this machine's (an index, or another architecture).
    const host = formatPlatform(hostPlatform());
    const platforms = shown.some((image) => image.platforms.some((p) => p !== host)) ? ['{{.Platforms}}'] : [];
    const columns = ['{{.Repository}}', '{{.Tag}}', ...(argv.digests ? ['{{.Digest}}'] : []), '{{.ID}}', '{{.CreatedSince}}', '{{.Size}}', ...platforms];
    const format = argv.format === undefined ? 'table' : String(argv.format);
    process.stdout.write(formatListing(format, rows, { defaultTable: `table ${columns.join('\t')}`, headers: HEADERS }));
    return 0;
  },
};
