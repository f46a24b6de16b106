/**
 * Validation of OCI documents against the image-spec's JSON schemas
 * (draft-04), for tests only. The schemas are read from ../shared/oci/schema
 * relative to the project root (override with OCI_SCHEMA_DIR).
 *
 * The schemas name each other by file ("defs.json#/..."), while their `id`s
 * point at opencontainers.org URLs that do not line up with those file names
 * (the spec's Go validator maps them with a custom loader). So each schema is
 * registered under a URL ending in its file name, with the `id`s removed, and
 * relative references then resolve to the right file.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvDraft04 from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv-draft-04';

export type OciKind = 'manifest' | 'index' | 'config' | 'layout' | 'descriptor';

const SCHEMA_FILES: Record<OciKind, string> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  layout: 'image-layout-schema.json',
  descriptor: 'content-descriptor.json',
};

const BASE_URL = 'https://ribo.invalid/oci-schema/';
// dist/test/helpers/oci-schema.js -> project root is three levels up.
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function schemaDir(): string {
  return process.env['OCI_SCHEMA_DIR'] ?? path.resolve(PROJECT_ROOT, '../shared/oci/schema');
}

/** Media type -> kind, for checking documents by the media type they claim. */
export function kindForMediaType(mediaType: string): OciKind | undefined {
  switch (mediaType) {
    case 'application/vnd.oci.image.manifest.v1+json':
      return 'manifest';
    case 'application/vnd.oci.image.index.v1+json':
      return 'index';
    case 'application/vnd.oci.image.config.v1+json':
      return 'config';
    case 'application/vnd.oci.layout.header.v1+json':
      return 'layout';
    case 'application/vnd.oci.descriptor.v1+json':
      return 'descriptor';
    default:
      return undefined;
  }
}

function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node === null || typeof node !== 'object') return node;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'id' && typeof value === 'string') continue;
    copy[key] = withoutIds(value);
  }
  return copy;
}

let validators: Map<OciKind, ValidateFunction> | undefined;

function compileAll(): Map<OciKind, ValidateFunction> {
  const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
  ajv.addFormat('date-time', (text: string) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text)));
  ajv.addFormat('uri', (text: string) => URL.canParse(text));
  const dir = schemaDir();
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
    const schema = withoutIds(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))) as object;
    ajv.addSchema(schema, BASE_URL + file);
  }
  const compiled = new Map<OciKind, ValidateFunction>();
  for (const [kind, file] of Object.entries(SCHEMA_FILES) as [OciKind, string][]) {
    compiled.set(kind, ajv.getSchema(BASE_URL + file)!);
  }
  return compiled;
}

/** Validate `json` as an OCI document of `kind`; returns the schema errors (empty when valid). */
export function validateOci(kind: OciKind, json: unknown): string[] {
  validators ??= compileAll();
  const validate = validators.get(kind)!;
  if (validate(json)) return [];
  return (validate.errors ?? []).map((error: ErrorObject) => `${error.instancePath || '/'} ${error.message ?? ''}`.trim());
}
