// What `npm pack` ships: the files a user needs (LICENSE, the bundled model and thresholds, the
// PyTorch peer script that `rcae bench --peers` runs), source maps that carry their sources, no
// tests; and npm itself says nothing about the project's configuration while packing.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/paths.js';

const pack = spawnSync('npm', ['pack', '--dry-run', '--json'], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
const files = new Set((JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path));

test('npm packs without a warning about the project configuration', () => {
  assert.is(pack.status, 0, pack.stderr);
  assert.not.match(pack.stderr, /npm warn/i);
});

test('the package holds what users run and nothing of the tests', () => {
  for (const path of ['LICENSE', 'README.md', 'bin/rcae.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/launch.js',
    'models/default.safetensors', 'models/default.thresholds.json', 'models/tuned-tiles.json', 'dist/bench/harness.js',
    // what `rcae bench --peers` runs for PyTorch: the peer script and the project's PyTorch model
    'bench/peers/torch-cpu.py', 'tools/rcae_model.py', 'tools/export_onnx.py']) {
    assert.ok(files.has(path), `${path} is packed`);
  }
  assert.equal([...files].filter((f) => f.startsWith('dist/test/') || f.startsWith('src/') || f.startsWith('test/')), []);
});

test('every packed source map carries the text of each source it names', () => {
  const maps = [...files].filter((f) => f.endsWith('.map'));
  assert.ok(maps.length > 50, `${maps.length} maps`);
  for (const path of maps) {
    const map = JSON.parse(readFileSync(join(repoRoot, path), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
    map.sources.forEach((source, i) => assert.type(map.sourcesContent?.[i], 'string', `${path}: ${source}`));
  }
});

test('the README names no path outside the repository', () => {
  assert.not.match(readFileSync(join(repoRoot, 'README.md'), 'utf8'), /\.\.\/shared\//);
});

test.run();
