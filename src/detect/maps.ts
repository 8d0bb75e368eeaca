// Per-pixel anomaly maps of an image against its reconstruction, at the model's input size: where
// the error is, for the scores that have a per-pixel form. The mean of a sample's map is its score
// (mse: the MSE; hf: the high-frequency error), so a map shows how the score is made up.

export const MAP_SCORES = ['mse', 'hf'] as const;
export type MapScore = (typeof MAP_SCORES)[number];

const reflect101 = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);

/**
 * `[n, size * size]` maps of n NCHW samples (square, `channels` x `size` x `size`): per pixel, the
 * mean over channels of (input - reconstruction)^2 for mse, or of the squared 3x3 Laplacian of
 * (input - reconstruction), borders reflect-101, for hf.
 */
export function errorMaps(score: MapScore, images: Float32Array, reconstructions: Float32Array, n: number, channels: number, size: number): Float32Array {
  const plane = size * size;
  const per = channels * plane;
  if (images.length !== n * per || reconstructions.length !== n * per) throw new RangeError(`maps: tensors do not hold ${n} x ${channels} x ${size} x ${size} values`);
  const out = new Float32Array(n * plane);
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < channels; c++) {
      const base = s * per + c * plane;
      const d = (y: number, x: number) => {
        const i = base + reflect101(y, size) * size + reflect101(x, size);
        return images[i] - reconstructions[i];
      };
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const v = score === 'mse' ? d(y, x) : d(y - 1, x) + d(y + 1, x) + d(y, x - 1) + d(y, x + 1) - 4 * d(y, x);
          out[s * plane + y * size + x] += (v * v) / channels;
        }
      }
    }
  }
  return out;
}
