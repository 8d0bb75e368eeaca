// Float64 references for the per-sample image statistics beside the MSE, which the GPU kernels are
// tested against: the high-frequency error (mean square of the 3x3 Laplacian of the channel mean of
// input minus reconstruction) and the mean SSIM, by direct sums of definitions.ts.

import { laplacianOfDifference, SSIM_WINDOW, ssimOfMoments, ssimWeights, type ImageShape } from './definitions.js';

/** The mean of each sample's per-pixel values, `perPixel(offset)` giving those of the sample at `offset`. */
function meanPerSample(batch: number, shape: ImageShape, perPixel: (offset: number) => Float64Array): Float64Array {
  const perSample = shape.channels * shape.height * shape.width;
  return Float64Array.from({ length: batch }, (_, s) => {
    const values = perPixel(s * perSample);
    return values.reduce((sum, v) => sum + v, 0) / values.length;
  });
}

/** Per-sample high-frequency error: the mean over the interior pixels of the squared Laplacian of the channel-mean difference. */
export function hfReference(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, shape: ImageShape): Float64Array {
  return meanPerSample(batch, shape, (offset) => laplacianOfDifference(a, b, offset, shape).map((v) => v * v));
}

/**
 * Per-pixel SSIM of one sample over the valid windows ([C, H-10, W-10]): Gaussian-weighted means,
 * variances and covariance per channel, as pytorch_msssim.ssim(data_range=2) computes them.
 */
export function ssimMap(a: ArrayLike<number>, b: ArrayLike<number>, offset: number, shape: ImageShape): Float64Array {
  const { channels, height: h, width: w } = shape;
  const g = ssimWeights();
  const oh = h - SSIM_WINDOW + 1;
  const ow = w - SSIM_WINDOW + 1;
  const out = new Float64Array(channels * oh * ow);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
        for (let i = 0; i < SSIM_WINDOW; i++) {
          for (let j = 0; j < SSIM_WINDOW; j++) {
            const k = offset + (c * h + y + i) * w + x + j;
            const wt = g[i] * g[j];
            ma += wt * a[k];
            mb += wt * b[k];
            aa += wt * a[k] * a[k];
            bb += wt * b[k] * b[k];
            ab += wt * a[k] * b[k];
          }
        }
        out[(c * oh + y) * ow + x] = ssimOfMoments(ma, mb, aa, bb, ab);
      }
    }
  }
  return out;
}

/** Per-sample mean SSIM between a and b. */
export function ssimReference(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, shape: ImageShape): Float64Array {
  return meanPerSample(batch, shape, (offset) => ssimMap(a, b, offset, shape));
}
