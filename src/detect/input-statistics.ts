// Statistics of the input image alone (no model), for the model-free baseline score: how much the
// pixels vary, how much they change between neighbours, and how much fine detail there is. A
// Gaussian over their logarithms fitted on real images flags inputs too smooth or too rough to be
// real, which a reconstruction error cannot do on its own.

/** Features per sample: log variance, log total variation, log mean squared Laplacian. */
export const INPUT_FEATURES = 3;

// Keeps the logarithm finite for a constant image.
const FLOOR = 1e-12;

/** `[n, INPUT_FEATURES]` features of n normalised [C, H, W] images (row-major). */
export function inputStatistics(images: Float32Array, n: number, channels: number, size: number): Float64Array {
  const per = channels * size * size;
  const out = new Float64Array(n * INPUT_FEATURES);
  for (let s = 0; s < n; s++) {
    const x = images.subarray(s * per, (s + 1) * per);
    let sum = 0;
    let sq = 0;
    let tv = 0;
    let lap = 0;
    for (let c = 0; c < channels; c++) {
      const p = c * size * size;
      for (let y = 0; y < size; y++) {
        for (let xx = 0; xx < size; xx++) {
          const i = p + y * size + xx;
          const v = x[i];
          sum += v;
          sq += v * v;
          if (xx + 1 < size) tv += Math.abs(x[i + 1] - v);
          if (y + 1 < size) tv += Math.abs(x[i + size] - v);
          // Interior pixels only: borders would add the image's edge as detail.
          if (y > 0 && xx > 0 && y + 1 < size && xx + 1 < size) {
            const l = x[i - 1] + x[i + 1] + x[i - size] + x[i + size] - 4 * v;
            lap += l * l;
          }
        }
      }
    }
    const mean = sum / per;
    const interior = channels * Math.max(1, (size - 2) ** 2);
    out[s * INPUT_FEATURES] = Math.log(Math.max(FLOOR, sq / per - mean * mean));
    out[s * INPUT_FEATURES + 1] = Math.log(Math.max(FLOOR, tv / per));
    out[s * INPUT_FEATURES + 2] = Math.log(Math.max(FLOOR, lap / interior));
  }
  return out;
}
