// A Gaussian fitted on real samples only, for two-sided scores: the Mahalanobis distance of a
// feature vector from the real images' mean. The covariance is estimated with Ledoit-Wolf shrinkage
// on standardised features (each divided by its standard deviation), i.e. shrunk towards the
// diagonal, so that a few thousand samples give a well-conditioned 512-dimensional fit. Fits are
// stored in thresholds files, which come from strangers: decoding bounds and checks every number.

import { FormatError, InputError } from '../errors.js';

export interface GaussianFit {
  dim: number;
  /** Samples the fit was made from. */
  count: number;
  /** Ledoit-Wolf shrinkage intensity in [0, 1] (1: diagonal covariance). */
  shrinkage: number;
  mean: Float64Array;
  /** Inverse covariance, dim x dim row-major. */
  precision: Float64Array;
}

/** Largest dimension a stored fit may have (a 4096-wide latent's precision is 128 MiB; files stop far below). */
export const MAX_FIT_DIM = 1024;

/**
 * Fits mean and shrunk covariance to `n` rows of `dim` values (row-major) and inverts it.
 * Ledoit & Wolf (2004) on standardised data Z: S = Z'Z/n, m = tr(S)/dim,
 * d2 = |S - mI|^2, b2 = min(d2, (sum_k |z_k|^4 - n |S|^2) / n^2), covariance (b2/d2) m I + (1 - b2/d2) S.
 */
export function fitGaussian(rows: Float64Array, n: number, dim: number): GaussianFit {
  if (n < 2 || rows.length !== n * dim) throw new InputError(`a Gaussian fit needs at least 2 samples of ${dim} values, got ${rows.length / dim}`);
  const mean = new Float64Array(dim);
  for (let k = 0; k < n; k++) for (let j = 0; j < dim; j++) mean[j] += rows[k * dim + j] / n;
  const scale = new Float64Array(dim);
  for (let k = 0; k < n; k++) for (let j = 0; j < dim; j++) scale[j] += (rows[k * dim + j] - mean[j]) ** 2 / n;
  // A constant feature carries no information; scale 1 keeps it harmless instead of dividing by 0.
  for (let j = 0; j < dim; j++) scale[j] = scale[j] > 0 ? Math.sqrt(scale[j]) : 1;
  const z = new Float64Array(n * dim);
  for (let k = 0; k < n; k++) for (let j = 0; j < dim; j++) z[k * dim + j] = (rows[k * dim + j] - mean[j]) / scale[j];
  const s = new Float64Array(dim * dim);
  let fourth = 0;
  for (let k = 0; k < n; k++) {
    const row = z.subarray(k * dim, (k + 1) * dim);
    let sq = 0;
    for (let i = 0; i < dim; i++) {
      const zi = row[i];
      sq += zi * zi;
      if (zi === 0) continue;
      const si = i * dim;
      for (let j = i; j < dim; j++) s[si + j] += zi * row[j];
    }
    fourth += sq * sq;
  }
  let trace = 0;
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      s[i * dim + j] /= n;
      s[j * dim + i] = s[i * dim + j];
    }
    trace += s[i * dim + i];
  }
  const m = trace / dim;
  let normS = 0;
  let d2 = 0;
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < dim; j++) {
      const v = s[i * dim + j];
      normS += v * v;
      d2 += (v - (i === j ? m : 0)) ** 2;
    }
  }
  const b2 = Math.min(d2, Math.max(0, (fourth - n * normS) / (n * n)));
  const shrinkage = d2 > 0 ? b2 / d2 : 1;
  const cov = s.map((v, idx) => (1 - shrinkage) * v + (idx % (dim + 1) === 0 ? shrinkage * m : 0));
  const inverse = invertSymmetric(cov, dim);
  // Back to the original units: P = D^-1 P_z D^-1.
  const precision = inverse.map((v, idx) => v / (scale[Math.floor(idx / dim)] * scale[idx % dim]));
  return { dim, count: n, shrinkage, mean, precision };
}

/** Inverse of a symmetric positive definite matrix by Cholesky (A = L L'). */
function invertSymmetric(a: Float64Array, dim: number): Float64Array {
  const l = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * dim + j];
      for (let k = 0; k < j; k++) sum -= l[i * dim + k] * l[j * dim + k];
      if (i === j) {
        if (!(sum > 0)) throw new InputError('the covariance of the fit is not positive definite (constant or too few samples?)');
        l[i * dim + i] = Math.sqrt(sum);
      } else l[i * dim + j] = sum / l[j * dim + j];
    }
  }
  // Columns of L^-1 by forward substitution, then A^-1 = L^-T L^-1.
  const li = new Float64Array(dim * dim);
  for (let c = 0; c < dim; c++) {
    for (let i = c; i < dim; i++) {
      let sum = i === c ? 1 : 0;
      for (let k = c; k < i; k++) sum -= l[i * dim + k] * li[k * dim + c];
      li[i * dim + c] = sum / l[i * dim + i];
    }
  }
  const inv = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      let sum = 0;
      for (let k = j; k < dim; k++) sum += li[k * dim + i] * li[k * dim + j];
      inv[i * dim + j] = sum;
      inv[j * dim + i] = sum;
    }
  }
  return inv;
}

/** Mahalanobis distance sqrt((x - mean)' P (x - mean)) of the `dim` values of x from `offset`. */
export function mahalanobis(fit: GaussianFit, x: ArrayLike<number>, offset = 0): number {
  return mahalanobisRows(fit, x, 1, offset)[0];
}

/**
 * Mahalanobis distances of `n` consecutive rows of `dim` values of x from `offset`. P is symmetric
 * (fits are built so and loadGaussian checks it), so d'Pd = sum_i d_i (P_ii d_i + 2 sum_{j>i} P_ij d_j)
 * reads only the upper triangle. Four rows go through each pass over P: four independent sums
 * instead of one chain of dependent adds, which is what bounds a single row's loop (64 rows of a
 * 512-wide latent: 21 ms over the whole matrix one row at a time, 7.6 ms so; AMD EPYC of bench/NOTES.md).
 */
export function mahalanobisRows(fit: GaussianFit, x: ArrayLike<number>, n: number, offset = 0): Float64Array {
  const { dim, mean, precision } = fit;
  const out = new Float64Array(n);
  // Rows past the end of x stay zero: their sums are computed and dropped.
  const d = [0, 1, 2, 3].map(() => new Float64Array(dim));
  const [d0, d1, d2, d3] = d;
  for (let first = 0; first < n; first += 4) {
    const rows = Math.min(4, n - first);
    for (let r = 0; r < 4; r++) for (let j = 0; j < dim; j++) d[r][j] = r < rows ? x[offset + (first + r) * dim + j] - mean[j] : 0;
    let q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    for (let i = 0; i < dim; i++) {
      const row = i * dim;
      let u0 = 0, u1 = 0, u2 = 0, u3 = 0;
      for (let j = i + 1; j < dim; j++) {
        const p = precision[row + j];
        u0 += p * d0[j];
        u1 += p * d1[j];
        u2 += p * d2[j];
        u3 += p * d3[j];
      }
      const diagonal = precision[row + i];
      q0 += d0[i] * (diagonal * d0[i] + 2 * u0);
      q1 += d1[i] * (diagonal * d1[i] + 2 * u1);
      q2 += d2[i] * (diagonal * d2[i] + 2 * u2);
      q3 += d3[i] * (diagonal * d3[i] + 2 * u3);
    }
    // A precision matrix from a file might not be positive definite; a negative form is distance 0, not NaN.
    [q0, q1, q2, q3].slice(0, rows).forEach((q, r) => (out[first + r] = Math.sqrt(Math.max(0, q))));
  }
  return out;
}

// ---- stored form: JSON with the precision matrix as base64 float64 (little-endian) ----------------

export interface StoredGaussian {
  dim: number;
  count: number;
  shrinkage: number;
  mean: number[];
  precision_f64le_base64: string;
}

export function storeGaussian(fit: GaussianFit): StoredGaussian {
  const bytes = new Uint8Array(fit.precision.length * 8);
  const view = new DataView(bytes.buffer);
  fit.precision.forEach((v, i) => view.setFloat64(i * 8, v, true));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { dim: fit.dim, count: fit.count, shrinkage: fit.shrinkage, mean: [...fit.mean], precision_f64le_base64: btoa(binary) };
}

/** Checks and decodes a stored fit; `where` names it in errors. Throws FormatError with one line. */
export function loadGaussian(stored: unknown, where: string, dim?: number): GaussianFit {
  const o = stored as Partial<StoredGaussian> | null;
  if (typeof o !== 'object' || o === null) throw new FormatError(`${where} must be an object`);
  if (!Number.isInteger(o.dim) || o.dim! < 1 || o.dim! > MAX_FIT_DIM) throw new FormatError(`${where}.dim must be an integer in 1..${MAX_FIT_DIM}`);
  const d = o.dim!;
  if (dim !== undefined && d !== dim) throw new FormatError(`${where}.dim is ${d}, expected ${dim}`);
  if (!Array.isArray(o.mean) || o.mean.length !== d || !o.mean.every(Number.isFinite)) throw new FormatError(`${where}.mean must hold ${d} finite numbers`);
  if (typeof o.precision_f64le_base64 !== 'string' || o.precision_f64le_base64.length !== Math.ceil((d * d * 8) / 3) * 4) {
    throw new FormatError(`${where}.precision_f64le_base64 must encode ${d}x${d} float64 values`);
  }
  let binary: string;
  try {
    binary = atob(o.precision_f64le_base64);
  } catch {
    throw new FormatError(`${where}.precision_f64le_base64 is not base64`);
  }
  const view = new DataView(Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer);
  const precision = Float64Array.from({ length: d * d }, (_, i) => view.getFloat64(i * 8, true));
  if (!precision.every(Number.isFinite)) throw new FormatError(`${where}: the precision matrix holds a non-finite number`);
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) if (precision[i * d + j] !== precision[j * d + i]) throw new FormatError(`${where}: the precision matrix is not symmetric (row ${i}, column ${j})`);
  }
  const count = Number.isInteger(o.count) && o.count! >= 0 ? o.count! : 0;
  const shrinkage = typeof o.shrinkage === 'number' && o.shrinkage >= 0 && o.shrinkage <= 1 ? o.shrinkage : NaN;
  if (Number.isNaN(shrinkage)) throw new FormatError(`${where}.shrinkage must be a number in [0, 1]`);
  return { dim: d, count, shrinkage, mean: Float64Array.from(o.mean), precision };
}
