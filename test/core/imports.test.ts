// The import graph, read from the TypeScript sources: the platform-neutral core (src/core.ts, the
// browser entry and the web app) reaches no Node module, no npm package and no Node global, and
// every folder imports only from its own layer or the layers below it (the map in src/README.md).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';
import { rel, tsFiles } from '../helpers/sources.js';

const test = suite('core/imports');

/** Layers, lowest first: a module may import from its own layer and those before it. */
const LAYERS: readonly (readonly string[])[] = [
  ['platform.ts', 'printable.ts', 'errors.ts', 'gpu'],
  ['kernels'],
  ['graph'],
  ['weights'],
  ['model.ts', 'image', 'io'],
  ['node'],
  ['detect', 'serve', 'queue'],
  ['core.ts'],
  ['browser'],
  ['cli'],
  ['index.ts'],
];
/** Known exception: `rcae bench` runs the harness that lives in bench/ (which imports src/ freely). */
const ALLOWED_UPWARD = new Set(['src/cli/commands/bench.ts -> bench/harness.ts']);

// Static imports and re-exports start a line; dynamic imports may appear anywhere.
const SPECIFIER = /^\s*(?:import|export)\s[^;'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function specifiers(file: string): string[] {
  const code = stripComments(readFileSync(file, 'utf8'));
  return [...code.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** The .ts file a relative specifier names ('./x.js' -> ./x.ts), or null when it is not a source file. */
function resolveSource(from: string, spec: string): string | null {
  const target = resolve(dirname(from), spec);
  for (const candidate of [target.replace(/\.js$/, '.ts'), target]) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return null;
}


function layerOf(file: string): number {
  const inSrc = rel(file).replace(/^src\//, '');
  const top = inSrc.split('/')[0];
  const index = LAYERS.findIndex((names) => names.includes(top));
  if (index < 0) throw new Error(`${rel(file)}: src/${top} is in no layer; add it to LAYERS here and to src/README.md`);
  return index;
}

test('the core, the browser entry and the web app reach no node: module, npm package or Node global', () => {
  const entries = ['src/core.ts', 'src/browser/index.ts', 'web/app.ts'].map((p) => join(repoRoot, p));
  const seen = new Set<string>();
  const problems: string[] = [];
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) {
        problems.push(`${rel(file)} imports '${spec}'`);
        continue;
      }
      const target = resolveSource(file, spec);
      if (target === null) problems.push(`${rel(file)} imports '${spec}', which is not a source file`);
      else queue.push(target);
    }
    const code = stripComments(readFileSync(file, 'utf8'));
    for (const global of ['Buffer', 'process', '__dirname', 'require']) {
      if (new RegExp(`(?<![.\\w'"])${global}\\b(?!['"])`).test(code)) problems.push(`${rel(file)} uses the Node global ${global}`);
    }
  }
  assert.ok(seen.size > 25, `the core graph has ${seen.size} modules; the scan found too few to be right`);
  assert.ok([...seen].some((f) => rel(f) === 'src/graph/executor.ts') && [...seen].some((f) => rel(f) === 'src/weights/zip.ts'));
  assert.equal(problems, []);
});

test('the scan sees what it must reject', () => {
  // Guards the checker itself: a Node module imported by a file of the core's kind is found.
  assert.ok(specifiers(join(repoRoot, 'src', 'node', 'dawn.ts')).includes('webgpu'));
  assert.ok(specifiers(join(repoRoot, 'src', 'node', 'node-platform.ts')).includes('node:buffer'));
  assert.ok(specifiers(join(repoRoot, 'src', 'image', 'decode.ts')).includes('sharp'));
});

test('every src/ folder imports only from its own layer or below; bench/ never imports the CLI', () => {
  const problems: string[] = [];
  for (const file of tsFiles(join(repoRoot, 'src'))) {
    const from = layerOf(file);
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSource(file, spec);
      if (target === null) {
        problems.push(`${rel(file)} imports '${spec}', which is not a source file`);
        continue;
      }
      if (!rel(target).startsWith('src/')) {
        if (!ALLOWED_UPWARD.has(`${rel(file)} -> ${rel(target)}`)) problems.push(`${rel(file)} imports ${rel(target)}, outside src/`);
        continue;
      }
      if (layerOf(target) > from) problems.push(`${rel(file)} (${LAYERS[from].join('/')}) imports ${rel(target)} (${LAYERS[layerOf(target)].join('/')}), a layer above it`);
    }
  }
  for (const file of tsFiles(join(repoRoot, 'bench'))) {
    for (const spec of specifiers(file)) {
      const target = spec.startsWith('.') ? resolveSource(file, spec) : null;
      if (target && rel(target).startsWith('src/cli/')) problems.push(`${rel(file)} imports ${rel(target)}: bench/ sits beside the CLI, not above it`);
    }
  }
  assert.equal(problems, []);
});

test('src/README.md lists these layers in this order, and one section per folder of src/', () => {
  const guide = readFileSync(join(repoRoot, 'src', 'README.md'), 'utf8');
  const section = (title: string) => {
    const start = guide.indexOf(`\n## ${title}\n`);
    assert.ok(start >= 0, `src/README.md has a ${title} section`);
    const end = guide.indexOf('\n## ', start + 1);
    return guide.slice(start, end < 0 ? undefined : end);
  };
  const listed = section('Layers').split('\n').filter((l) => /^\d+\. `/.test(l));
  const layers = listed.map((line) => [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\/$/, '')));
  assert.equal(layers, LAYERS.map((names) => [...names]));
  const headings = [...section('Folders').matchAll(/^### (\S+)\/$/gm)].map((m) => m[1]).sort();
  const folders = readdirSync(join(repoRoot, 'src')).filter((n) => statSync(join(repoRoot, 'src', n)).isDirectory()).sort();
  assert.equal(headings, folders);
});

test.run();
