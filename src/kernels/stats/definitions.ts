// What the per-pixel image statistics beside the MSE are, in float64: the 3x3 Laplacian of the channel
// mean of input minus reconstruction (the high-frequency error squares it), and SSIM's window, constants
// and formula. The GPU kernels (hf.ts, ssim.ts), the anomaly maps (image/anomaly-maps.ts) and the
// tests' references (reference.ts) all take them from here. No Node imports: the web page uses them.

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

/** Smallest side the high-frequency error accepts: one interior pixel. */
export const HF_MIN_SIDE = 3;

/**
 * Per-pixel Laplacian of the channel mean of d = a - b for one sample (a, b: [C, H, W] from
 * `offset`), at the interior pixels ([H-2, W-2]; no border rule):
 * L[y,x] = g[y-1,x] + g[y+1,x] + g[y,x-1] + g[y,x+1] - 4 g[y,x], g = mean over channels of d.
 */
export function laplacianOfDifference(a: ArrayLike<number>, b: ArrayLike<number>, offset: number, shape: ImageShape): Float64Array {
  const { channels, height: h, width: w } = shape;
  const g = new Float64Array(h * w);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < h * w; i++) g[i] += (a[offset + c * h * w + i] - b[offset + c * h * w + i]) / channels;
  }
  const out = new Float64Array((h - 2) * (w - 2));
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) out[(y - 1) * (w - 2) + x - 1] = g[(y - 1) * w + x] + g[(y + 1) * w + x] + g[y * w + x - 1] + g[y * w + x + 1] - 4 * g[y * w + x];
  }
  return out;
}

/** SSIM's Gaussian window: 11 taps, sigma 1.5 (Wang et al. 2004), normalised to sum 1. */
export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
export function ssimWeights(): Float64Array {
  const r = (SSIM_WINDOW - 1) / 2;
  const w = Float64Array.from({ length: SSIM_WINDOW }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * SSIM_SIGMA ** 2)));
  const sum = w.reduce((x, y) => x + y, 0);
  return w.map((v) => v / sum);
}

/** Images are normalised to [-1, 1], so the data range L is 2; C1 = (0.01 L)^2, C2 = (0.03 L)^2. */
export const SSIM_DATA_RANGE = 2;
export const SSIM_C1 = (0.01 * SSIM_DATA_RANGE) ** 2;
export const SSIM_C2 = (0.03 * SSIM_DATA_RANGE) ** 2;

/** SSIM of one window from its Gaussian-weighted moments: the means of a and b, of a^2 and b^2, and of ab. */
export function ssimOfMoments(ma: number, mb: number, aa: number, bb: number, ab: number): number {
  const va = aa - ma * ma, vb = bb - mb * mb, cov = ab - ma * mb;
  return ((2 * ma * mb + SSIM_C1) * (2 * cov + SSIM_C2)) / ((ma * ma + mb * mb + SSIM_C1) * (va + vb + SSIM_C2));
}
