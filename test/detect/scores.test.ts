import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INPUT_FEATURES, inputStatistics } from '../../src/detect/input-statistics.js';
import { ATYPICAL_FEATURES, atypicalFeatures, endpointsOf, parseScore, ScoreError } from '../../src/detect/scores.js';

test('each score asks the GPU for what it needs, once', () => {
  assert.equal(endpointsOf(['mse']), ['mse']);
  assert.equal(endpointsOf(['dssim', 'hf']), ['ssim', 'hf']);
  assert.equal(endpointsOf(['baseline']), []);
  assert.equal(new Set(endpointsOf(['mse', 'hf', 'dssim', 'atypical', 'baseline'])), new Set(['mse', 'hf', 'ssim', 'latent']));
  // atypical leaves SSIM out: the dearest statistic, and it added nothing (bench/NOTES.md).
  assert.equal(new Set(endpointsOf(['atypical'])), new Set(['mse', 'hf', 'latent']));
});

test('scores are parsed by name', () => {
  assert.is(parseScore('atypical'), 'atypical');
  assert.throws(() => parseScore('baseline'), (e: Error) => e instanceof ScoreError && /one of mse, hf, dssim, atypical/.test(e.message));
});

test('atypical features: logs of the errors, the latent distance, the input statistics', () => {
  const input = Float64Array.of(1, 2, 3, 4, 5, 6);
  const f = atypicalFeatures({ mse: Float32Array.of(0.5, Math.E), hf: Float32Array.of(1, 0) }, 1, 3, input);
  assert.is(f.length, ATYPICAL_FEATURES.length);
  assert.ok(Math.abs(f[0] - 1) < 1e-6);
  assert.is(f[1], Math.log(1e-12));
  assert.equal(f.slice(2), [3, 4, 5, 6]);
});

test('input statistics: variance, total variation and Laplacian energy of known images', () => {
  const size = 4;
  // Channel 0 a horizontal ramp 0, 0.1, 0.2, 0.3 (no curvature); channels 1, 2 constant 0.5.
  const image = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) image[y * size + x] = 0.1 * x;
  image.fill(0.5, size * size);
  const [logVar, logTv, logLap] = inputStatistics(image, 1, 3, size);
  const values = [...image];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  assert.ok(Math.abs(logVar - Math.log(variance)) < 1e-6, `variance ${Math.exp(logVar)} vs ${variance}`);
  // 4 rows x 3 steps of 0.1 in channel 0 over 48 values.
  assert.ok(Math.abs(Math.exp(logTv) - (12 * 0.1) / 48) < 1e-7, `total variation ${Math.exp(logTv)}`);
  // A ramp has no second difference: the floor.
  assert.ok(Math.exp(logLap) < 1e-10, `Laplacian energy ${Math.exp(logLap)}`);
  assert.is(inputStatistics(new Float32Array(2 * 3 * 16), 2, 3, size).length, 2 * INPUT_FEATURES);
});

test.run();
