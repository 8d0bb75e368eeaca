import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitGaussian, loadGaussian, mahalanobis, mahalanobisRows, storeGaussian } from '../../src/detect/gaussian.js';
import { mulberry32 } from '../../src/graph/random-params.js';

/** Standard normal draws (Box-Muller) from the project's seeded PRNG. */
function normals(seed: number, count: number): Float64Array {
  const rand = mulberry32(seed);
  return Float64Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

// x = mean + A z with z standard normal: covariance A A'.
const A = [[2, 0, 0], [1, 0.5, 0], [-0.3, 0.2, 0.4]];
const MEAN = [1, -2, 0.5];

function samples(n: number, seed: number): Float64Array {
  const z = normals(seed, n * 3);
  const x = new Float64Array(n * 3);
  for (let k = 0; k < n; k++) for (let i = 0; i < 3; i++) x[k * 3 + i] = MEAN[i] + A[i].reduce((s, a, j) => s + a * z[k * 3 + j], 0);
  return x;
}

test('many samples: the mean, a near-zero shrinkage, and precision = inverse covariance', () => {
  const fit = fitGaussian(samples(20000, 1), 20000, 3);
  MEAN.forEach((m, i) => assert.ok(Math.abs(fit.mean[i] - m) < 0.05, `mean[${i}] ${fit.mean[i]}`));
  assert.ok(fit.shrinkage < 0.01, `shrinkage ${fit.shrinkage}`);
  // cov * precision should be the identity: cov = A A'.
  const cov = A.map((ai) => A.map((aj) => ai.reduce((s, v, k) => s + v * aj[k], 0)));
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const v = cov[i].reduce((s, c, k) => s + c * fit.precision[k * 3 + j], 0);
      assert.ok(Math.abs(v - (i === j ? 1 : 0)) < 0.05, `(cov P)[${i}][${j}] = ${v}`);
    }
  }
  // Held-out samples: the mean squared distance of a 3-D Gaussian is 3.
  const held = samples(5000, 2);
  let sq = 0;
  for (let k = 0; k < 5000; k++) sq += mahalanobis(fit, held, k * 3) ** 2 / 5000;
  assert.ok(Math.abs(sq - 3) < 0.15, `mean squared distance ${sq}`);
});

test('fewer samples than dimensions: shrinkage keeps the fit invertible and finite', () => {
  const dim = 40;
  const fit = fitGaussian(normals(3, 6 * dim), 6, dim);
  assert.ok(fit.shrinkage > 0.3 && fit.shrinkage <= 1, `shrinkage ${fit.shrinkage}`);
  assert.ok(fit.precision.every(Number.isFinite));
  const d = mahalanobis(fit, normals(4, dim));
  assert.ok(Number.isFinite(d) && d > 0, `distance ${d}`);
});

test('a constant feature does not break the fit', () => {
  const x = samples(500, 5).map((v, i) => (i % 3 === 2 ? 7 : v));
  const fit = fitGaussian(x, 500, 3);
  assert.ok(fit.precision.every(Number.isFinite));
  assert.is(mahalanobis(fit, fit.mean), 0);
});

test('stored fits round-trip exactly; damaged ones are refused with one line naming the field', () => {
  const fit = fitGaussian(samples(300, 6), 300, 3);
  const stored = JSON.parse(JSON.stringify(storeGaussian(fit)));
  const back = loadGaussian(stored, 'f', 3);
  assert.equal([...back.precision], [...fit.precision]);
  assert.equal([...back.mean], [...fit.mean]);
  assert.throws(() => loadGaussian(stored, 'f', 4), /f\.dim is 3, expected 4/);
  assert.throws(() => loadGaussian({ ...stored, dim: 5000 }, 'f'), /f\.dim must be an integer in 1\.\.1024/);
  assert.throws(() => loadGaussian({ ...stored, mean: [1, 2] }, 'f'), /f\.mean must hold 3 finite numbers/);
  assert.throws(() => loadGaussian({ ...stored, precision_f64le_base64: stored.precision_f64le_base64.slice(4) }, 'f'), /must encode 3x3 float64/);
  const nan = storeGaussian({ ...fit, precision: fit.precision.map((v, i) => (i === 4 ? NaN : v)) });
  assert.throws(() => loadGaussian(nan, 'f'), /non-finite/);
  // The distance reads only the upper triangle, so a file whose lower triangle differs is refused.
  const skewed = storeGaussian({ ...fit, precision: fit.precision.map((v, i) => (i === 3 ? v + 1e-9 : v)) });
  assert.throws(() => loadGaussian(skewed, 'f'), /f: the precision matrix is not symmetric \(row 0, column 1\)/);
  assert.throws(() => loadGaussian('x', 'f'), /f must be an object/);
});

test('distances of many rows (blocks of four and a remainder) equal the full quadratic form in float64', () => {
  const dim = 37;
  const fit = fitGaussian(normals(7, 120 * dim), 120, dim);
  for (const n of [1, 3, 4, 9]) {
    const offset = 5;
    const x = normals(8 + n, offset + n * dim);
    const got = mahalanobisRows(fit, x, n, offset);
    assert.is(got.length, n);
    for (let r = 0; r < n; r++) {
      let q = 0;
      for (let i = 0; i < dim; i++) for (let j = 0; j < dim; j++) q += (x[offset + r * dim + i] - fit.mean[i]) * fit.precision[i * dim + j] * (x[offset + r * dim + j] - fit.mean[j]);
      const expected = Math.sqrt(q);
      assert.ok(Math.abs(got[r] - expected) <= 1e-12 * expected, `n ${n} row ${r}: ${got[r]}, expected ${expected}`);
      assert.is(mahalanobis(fit, x, offset + r * dim), got[r]);
    }
  }
});

test.run();
