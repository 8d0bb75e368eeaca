// The package as a user gets it: `npm pack`, the tarball installed into a fresh project, a typed
// example compiled by a strict tsc (module NodeNext, no skipLibCheck) under TypeScript 5's default
// `types` and TypeScript 7's (`types: []`), then run on two sample images and a broken file; its
// errors must equal the installed CLI's, numbers and failure message alike.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot, tempDir } from '../helpers/paths.js';

const test = suite('package/consumer');

function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20, ...options });
  assert.is(r.status, 0, `${command} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

const project = tempDir('rcae-consumer-');
const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', project], { cwd: repoRoot })) as { filename: string }[];
const tarball = join(project, packed[0].filename);

writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'rcae-consumer', private: true, type: 'module' }, null, 2));
// Dependencies come from npm's cache when the repository's own install filled it.
run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: project });

const samples = join(project, 'node_modules', 'rcae-webgpu', 'samples');
const broken = join(project, 'broken.png');
writeFileSync(broken, 'not a PNG at all');
const inputs = [join(samples, 'noise-1.png'), join(samples, 'scene-1.png')];

// No Node globals on purpose: a project compiled with `types: []` has none, and the package's own
// declarations must not need them either.
const example = `import { defaultThresholds, loadImageTensor, loadModel, pickThreshold, type Model } from 'rcae-webgpu';
// The other entry points' declarations are compiled too.
import type { Architecture } from 'rcae-webgpu/core';
import type * as browser from 'rcae-webgpu/browser';

export type Entries = [Architecture, typeof browser.imageTensor];

const inputs: string[] = ${JSON.stringify(inputs)};
const model: Model = await loadModel();
const tensors: Float32Array[] = await Promise.all(inputs.map((path) => loadImageTensor(path)));
const batch = new Float32Array(tensors.length * model.imageSize);
tensors.forEach((t, i) => batch.set(t, i * model.imageSize));
const errors: Float32Array = await model.reconstructionError(batch);
const { value } = pickThreshold(await defaultThresholds(), 'balanced');
inputs.forEach((input, i) => console.log(JSON.stringify({ input, error: errors[i], label: errors[i] > value ? 'FAKE' : 'REAL' })));
try {
  await loadImageTensor(${JSON.stringify(broken)});
} catch (err) {
  console.log(JSON.stringify({ input: ${JSON.stringify(broken)}, message: (err as Error).message }));
}
model.dispose();
`;
writeFileSync(join(project, 'example.ts'), example);

const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, outDir: 'out' };

test('the packed package compiles in a strict NodeNext project with the default types and with types: []', () => {
  for (const types of [undefined, []]) {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, ...(types ? { types } : {}) }, files: ['example.ts'] }));
    run(process.execPath, [tsc, '-p', project], { cwd: project });
  }
});

test('the bundled model and thresholds are reachable through the package exports', () => {
  const require = createRequire(join(project, 'package.json'));
  for (const name of ['default.safetensors', 'default.thresholds.json']) {
    assert.equal(readFileSync(require.resolve(`rcae-webgpu/models/${name}`)), readFileSync(join(repoRoot, 'models', name)));
  }
});

test('the compiled example gives the installed CLI errors, labels and failure message', () => {
  const lines = run(process.execPath, [join(project, 'out', 'example.js')], { cwd: project }).trim().split('\n').map((l) => JSON.parse(l));
  const scored = lines.filter((l) => 'error' in l);
  assert.equal(scored.map((l) => l.input), inputs);

  const cli = join(project, 'node_modules', '.bin', 'rcae');
  const rows = run(cli, ['detect', '--format', 'jsonl', ...inputs], { cwd: project }).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.map((r) => r.input), inputs);
  rows.forEach((row, i) => {
    assert.ok(Math.abs(row.error - scored[i].error) <= 1e-6 * Math.abs(row.error), `${row.input}: CLI ${row.error}, API ${scored[i].error}`);
    assert.is(row.label, scored[i].label, row.input);
  });
  assert.equal(new Set(rows.map((r) => r.label)), new Set(['FAKE', 'REAL']), 'one noise image and one scene');

  const failure = spawnSync(cli, ['score', broken], { cwd: project, encoding: 'utf8', timeout: 300_000 });
  assert.is(failure.status, 1);
  const message = lines.find((l) => 'message' in l)?.message;
  assert.ok(message, 'the example reported the broken file');
  assert.is(failure.stderr.trim(), `rcae score: ${message}`);
});

// The installed project holds ~100 MB of dependencies; it is not kept.
test.after(() => rmSync(project, { recursive: true, force: true }));

test.run();
