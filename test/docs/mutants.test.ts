// The bug list `npm run mutate` plants stays plantable: each line still occurs exactly once in its
// source and in the build, names tests that exist, and narrows layer-shapes only to variants it has.
// (The mutation run itself takes many minutes and lives outside npm test.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';

interface Mutant {
  id: string;
  file: string;
  from: string;
  to: string;
  tests: string[];
  env?: Record<string, string>;
}
const tools = (name: string) => pathToFileURL(join(repoRoot, 'tools', name)).href;
const { MUTANTS } = (await import(tools('mutants.mjs'))) as { MUTANTS: Mutant[] };
const { mutantProblem } = (await import(tools('mutate.mjs'))) as { mutantProblem: (m: Mutant) => string | null };

test('every planted bug applies to exactly one line of its source and of the build', () => {
  assert.ok(MUTANTS.length >= 15);
  assert.is(new Set(MUTANTS.map((m) => m.id)).size, MUTANTS.length, 'ids are distinct');
  for (const m of MUTANTS) {
    assert.is(mutantProblem(m), null, m.id);
    assert.is.not(m.from, m.to, m.id);
  }
});

test('each names tests that exist, and layer-shapes variants that the test runs', () => {
  const layerShapes = readFileSync(join(repoRoot, 'test/kernels/layer-shapes.test.ts'), 'utf8');
  for (const m of MUTANTS) {
    for (const t of m.tests) assert.ok(existsSync(join(repoRoot, 'test', `${t}.test.ts`)), `${m.id}: test/${t}.test.ts`);
    for (const v of m.env?.RCAE_LAYER_VARIANTS?.split(',') ?? []) {
      const [variant, precision] = v.split('/');
      assert.ok(layerShapes.includes(`['${variant}', '${precision}']`), `${m.id}: layer-shapes has no ${v}`);
    }
  }
  // Every GEMM-family kernel file with a fragment or tile of its own has a bug planted in it.
  for (const f of ['conv2d-register', 'conv2d-subgroup', 'gemm-tiles', 'conv2d-gemm-reduce', 'gemm-load-vec4', 'gemm-frag-emulated', 'conv2d-gemm-matrix', 'gemm-epilogue']) {
    assert.ok(MUTANTS.some((m) => m.file === `src/kernels/conv2d/${f}.wgsl`), f);
  }
});

test('the docs give the number of planted bugs', () => {
  for (const doc of ['docs/design.md', 'docs/results.md']) {
    const said = /(?:each of the|holds) (\d+) bugs/.exec(readFileSync(join(repoRoot, doc), 'utf8'));
    assert.ok(said, `${doc} says how many bugs npm run mutate plants`);
    assert.is(Number(said[1]), MUTANTS.length, doc);
  }
});

test.run();
