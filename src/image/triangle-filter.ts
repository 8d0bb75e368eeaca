// The weights of Pillow's BILINEAR resampling (libImaging/Resample.c, precompute_coeffs with the
// triangle filter, normalised in float64), for one axis: per output sample a window of source samples
// weighted by the triangle filter, stretched by the downscale factor so that shrinking averages
// instead of skipping pixels. The model's input resize (resize.ts) turns them into Pillow's fixed
// point; anomaly maps (anomaly-maps.ts) use them as they are to go back to the input's size.

const BILINEAR_SUPPORT = 1;

export interface TriangleWeights {
  /** Taps per output sample (the stride of `weights`). */
  taps: number;
  /** First source index per output sample. */
  start: Int32Array;
  /** Number of source samples used per output sample. */
  count: Int32Array;
  /** Normalised weights (each output sample's sum to 1), `taps` per output sample. */
  weights: Float64Array;
}

function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/** The weights of a resampling of [0, inSize) onto outSize samples, pixel centres at i + 0.5. */
export function triangleWeights(inSize: number, outSize: number): TriangleWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BILINEAR_SUPPORT * filterScale;
  const invFilterScale = 1 / filterScale; // Pillow multiplies by the reciprocal; dividing can differ in the last bit
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * taps);
  const k = new Float64Array(taps);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C casts truncate toward zero; the clamps below make that equal to Pillow's rounding.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = triangle((x + xmin - center + 0.5) * invFilterScale);
      sum += k[x];
    }
    for (let x = 0; x < xmax; x++) weights[xx * taps + x] = sum !== 0 ? k[x] / sum : k[x];
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { taps, start, count, weights };
}
