import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorMaps } from '../../src/detect/maps.js';
import { mseReference } from '../../src/kernels/mse/reference.js';
import { hfReference } from '../../src/kernels/stats/reference.js';
import { mulberry32 } from '../../src/graph/random-params.js';

test('each map averages to its sample\'s score (mse, hf), for odd sizes and several samples', () => {
  for (const [n, channels, size] of [[1, 1, 2], [3, 3, 17], [2, 2, 32]]) {
    const rand = mulberry32(n * 100 + size);
    const images = Float32Array.from({ length: n * channels * size * size }, () => rand() * 2 - 1);
    const recon = images.map((v) => v + (rand() - 0.5) * 0.2);
    const plane = size * size;
    const expected = { mse: mseReference(images, recon, n, channels * plane), hf: hfReference(images, recon, n, { channels, height: size, width: size }) };
    for (const score of ['mse', 'hf'] as const) {
      const maps = errorMaps(score, images, recon, n, channels, size);
      assert.is(maps.length, n * plane);
      for (let s = 0; s < n; s++) {
        const mean = maps.subarray(s * plane, (s + 1) * plane).reduce((a, b) => a + b, 0) / plane;
        assert.ok(Math.abs(mean - expected[score][s]) <= 1e-5 * expected[score][s], `${score} ${n}x${channels}x${size}: sample ${s} map mean ${mean} vs ${expected[score][s]}`);
      }
    }
  }
});

test('the error sits where the images differ', () => {
  const size = 9;
  const images = new Float32Array(size * size);
  const recon = images.slice();
  recon[4 * size + 4] = 0.5;
  const mse = errorMaps('mse', images, recon, 1, 1, size);
  assert.is(mse[4 * size + 4], 0.25);
  assert.is(mse.filter((v) => v > 0).length, 1);
  const hf = errorMaps('hf', images, recon, 1, 1, size);
  // The Laplacian of a spike reaches its four neighbours.
  assert.is(hf.filter((v) => v > 0).length, 5);
  assert.throws(() => errorMaps('mse', images, recon, 2, 1, size), /do not hold 2 x 1 x 9 x 9/);
});

test.run();
