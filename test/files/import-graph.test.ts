import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The folders under src/ are layers (docs/architecture.md): these checks read
 * every import of the TypeScript sources and fail on a cycle between files,
 * or on an import a folder's layer does not allow.
 */

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/** What each folder may import besides itself and src/errors.ts, as docs/architecture.md's table says. */
const ALLOWED: Record<string, string[]> = {
  cli: ['run', 'build', 'registry', 'image', 'snapshot', 'runtime', 'store', 'layer', 'dockerfile', 'oci', 'files'],
  run: ['image', 'snapshot', 'runtime', 'store', 'oci', 'files'],
  build: ['dockerfile', 'image', 'snapshot', 'runtime', 'store', 'layer', 'registry', 'oci', 'files'],
  registry: ['store', 'image', 'oci', 'files'],
  image: ['snapshot', 'store', 'layer', 'oci', 'files'],
  snapshot: ['layer', 'store', 'oci', 'files'],
  runtime: ['oci', 'files'],
  store: ['oci', 'files'],
  layer: ['oci', 'files'],
  dockerfile: ['oci'],
  oci: [],
  files: [],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports of a file (static, re-exports, type-only, side-effect and dynamic), as paths of .ts files under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s+['"](\.[^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers.map((spec) => path.relative(SRC, path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'))));
}

/** The folder a src/-relative path belongs to ('.' for top-level files such as errors.ts). */
function folderOf(rel: string): string {
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
}

const graph = new Map(sourceFiles(SRC).map((file) => [path.relative(SRC, file), importsOf(file)]));

function findCycles(): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

/** "from -> to" for each import from folder `from` into a folder it may not use. */
function forbiddenImports(): string[] {
  const found: string[] = [];
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    for (const target of imports) {
      const to = folderOf(target);
      if (to === from || to === '.' || from === '.') continue;
      if (!ALLOWED[from]?.includes(to)) found.push(`${file} -> ${target}`);
    }
  }
  return found;
}

describe('import graph of src/', () => {
  it('reads the imports of every source file', () => {
    // A regex that stopped matching would make the checks below pass on nothing.
    expect(graph.get('run/copy-files.ts')).toEqual(expect.arrayContaining(['files/tree-copy.ts', 'files/root-path.ts']));
    expect(graph.get('store/layout.ts')).toEqual(expect.arrayContaining(['files/atomic-write.ts', 'store/lock.ts']));
    for (const imports of graph.values()) for (const target of imports) expect(graph.has(target)).toBe(true);
  });

  it('has no import cycle between files', () => {
    expect(findCycles().map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('has every folder import only the layers below it', () => {
    expect(Object.keys(ALLOWED).sort()).toEqual([...new Set([...graph.keys()].map(folderOf))].filter((f) => f !== '.').sort());
    expect(forbiddenImports()).toEqual([]);
  });

  it('keeps run/ off build/, and runtime/ and files/ at the bottom', () => {
    const targets = (folder: string) => [...graph].filter(([file]) => folderOf(file) === folder).flatMap(([, imports]) => imports.map(folderOf));
    expect(targets('run')).not.toContain('build');
    expect(targets('runtime').filter((f) => !['runtime', 'oci', 'files', '.'].includes(f))).toEqual([]);
    expect(targets('files').filter((f) => f !== 'files' && f !== '.')).toEqual([]);
    expect(targets('snapshot')).not.toContain('runtime');
  });
});
