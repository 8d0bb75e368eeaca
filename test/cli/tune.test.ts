// Precision, variants and tuning through the real CLI: `rcae tune` stores a winner per layer in the
// cache it is given, `rcae bench` then runs every layer on a tuned tile and says so, `--precision f16`
// scores within the f16 bounds of f32, and bad choices fail with one clear line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convLayers } from '../../src/graph/lower.js';
import { buildPlan } from '../../src/graph/plan.js';
import { validateArchitecture } from '../../src/graph/architecture.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { rcae } from '../helpers/rcae.js';

const w4 = join(fixture('model', 'w4'), 'model-published.ckpt');
const w8 = fixture('model', 'w8');
const tmp = tempDir();
const cache = join(tmp, 'tune.json');
const w4Plan = buildPlan(validateArchitecture(JSON.parse(readFileSync(join(fixture('model', 'w4'), 'arch.json'), 'utf8'))));
const w4Layers = new Set(convLayers(w4Plan, 'f32').map((c) => c.key));

test('rcae tune stores a tile per distinct layer; rcae bench then runs every layer on a tuned tile', () => {
  const tuned = rcae(['tune', '--model', w4, '--variant', 'fma', '--batch', '2', '--candidates', '1', '--min-sample-ms', '10', '--cache', cache, '--json']);
  assert.is(tuned.status, 0, tuned.stderr);
  const result = JSON.parse(tuned.stdout);
  assert.equal(result.layers.map((l: { layer: string }) => l.layer).sort(), [...w4Layers].sort());
  for (const l of result.layers) assert.ok(l.ms > 0 && l.ms <= l.heuristic.ms, JSON.stringify(l));
  // Timed by timestamp queries, unquantized, each sample repeated until it lasts the 10 ms floor.
  assert.equal(result.timing, { method: 'timestamp queries', floor_ms: 10, samples: 3, timestamp_quantization: 'off' });
  for (const l of result.layers) {
    for (const t of [l, l.heuristic]) assert.ok(t.min_sample_ms >= 10 && t.repeat >= 1 && t.ms * t.repeat >= t.min_sample_ms, JSON.stringify(t));
  }
  assert.equal(result.untuned, []);
  const stored = JSON.parse(readFileSync(cache, 'utf8'));
  const [device] = Object.values(stored.devices) as { tiles: Record<string, unknown> }[];
  assert.is(Object.keys(device.tiles).length, result.layers.length);
  assert.ok(Object.keys(device.tiles).every((k) => /^f32 .* @2$/.test(k)));

  const json = join(tmp, 'bench.json');
  const bench = rcae(['bench', '--model', w4, '--variant', 'fma', '--batch', '2', '--time', '0', '--iterations', '1', '--json', json], { RCAE_TUNE_CACHE: cache });
  assert.is(bench.status, 0, bench.stderr);
  const figures = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(figures.model.variant, 'fma');
  assert.is(figures.adapter.timestamp_quantization, 'off');
  assert.equal(figures.adapter.disabled_toggles, ['timestamp_quantization']);
  assert.is(figures.model.tuned_layers, w4Plan.statsStart);
  assert.ok(figures.runs.every((r: { outputs_match: boolean | null }) => r.outputs_match !== false));
  const kernels = figures.layers.rows.map((r: { kernel: string }) => r.kernel);
  assert.ok(kernels.filter((k: string) => !['mse', 'hf', 'ssim'].includes(k)).every((k: string) => /^fma f32 fma .* \(tuned\)$/.test(k)), kernels.join('\n'));
  const untuned = rcae(['bench', '--model', w4, '--variant', 'fma', '--batch', '2,3', '--max-chunk', '1', '--no-profile', '--time', '0', '--iterations', '1', '--no-tuned', '--json', json], { RCAE_TUNE_CACHE: cache });
  assert.is(untuned.status, 0, untuned.stderr);
  const chunked = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(chunked.model.tuned_layers, 0);
  // --max-chunk 1: batch 2 and 3 run in 2 and 3 command buffers, with no GPU-only row, and the table says why.
  assert.equal([chunked.chunking.max_chunk, chunked.chunking.limited_by], [1, 'max-chunk']);
  assert.equal(chunked.runs.map((r: { batch: number; timing: string; chunks: number }) => [r.batch, r.timing, r.chunks]), [[2, 'end-to-end', 2], [3, 'end-to-end', 3]]);
  assert.match(untuned.stdout, /Chunks of at most 1 samples per command buffer: maxChunk 1 \(--max-chunk\)/);
  assert.match(untuned.stdout, /\| rcae \| end-to-end \| 3 \| 3 \| .* 3 chunks of <= 1 samples \(max-chunk\), so no GPU-only row \|/);
});

test('tune --max-seconds stops early and lists the layers left on the heuristic; bad timing flags fail with one line', () => {
  const out = join(tmp, 'partial.json');
  const r = rcae(['tune', '--model', w4, '--variant', 'fma', '--batch', '1', '--candidates', '0', '--max-seconds', '0', '--cache', out, '--json']);
  assert.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.layers, []);
  assert.equal([...result.untuned].sort(), [...w4Layers].sort());
  for (const [flag, value] of [['--min-sample-ms', '-1'], ['--max-seconds', 'soon'], ['--max-chunk', '0']]) {
    const bad = rcae([flag === '--max-chunk' ? 'bench' : 'tune', flag, value]);
    assert.is(bad.status, 2, `${flag} ${value}`);
    assert.match(bad.stderr, new RegExp(`${flag} must be an? (number|integer) >= \\d`));
  }
});

test('--precision f16 scores within the f16 bound of f32 (1e-2 relative)', () => {
  const input = join(w8, 'input-cifar.npy');
  const scores = (precision: string) => {
    const r = rcae(['score', '--model', join(w8, 'model-published.ckpt'), '--precision', precision, '--format', 'jsonl', input]);
    assert.is(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l).error as number);
  };
  const f32 = scores('f32');
  const f16 = scores('f16');
  assert.is(f16.length, f32.length);
  f32.forEach((e, i) => assert.ok(Math.abs(f16[i] - e) / e <= 1e-2, `sample ${i}: f16 ${f16[i]} vs f32 ${e}`));
});

test('bad precision and variant choices fail with one line', () => {
  const bad = rcae(['score', '--precision', 'f64', join(w8, 'input-cifar.npy')]);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--precision must be f32 or f16, got 'f64'/);
  const variant = rcae(['score', '--variant', 'fastest', join(w8, 'input-cifar.npy')]);
  assert.is(variant.status, 2);
  assert.match(variant.stderr, /unknown kernel variant "fastest"/);
  const f16Nchw = rcae(['score', '--variant', 'subgroup', '--precision', 'f16', join(w8, 'input-cifar.npy')]);
  assert.is(f16Nchw.status, 1);
  assert.match(f16Nchw.stderr, /variant 'subgroup' is float32 NCHW only/);
  assert.is(f16Nchw.stderr.trim().split('\n').filter((l) => !/Warning: maxDynamic|artificially reduced/.test(l)).length, 1);
});

test.run();
