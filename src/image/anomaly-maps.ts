// Per-pixel anomaly maps of an image against its reconstruction: where the error is, for the scores
// that have a per-pixel form, and the one colour ramp they are drawn with. They are made at the
// model's input size, where the mean of a sample's map is its score (mse: over every pixel; hf: over
// the interior pixels), so a map shows how the score is made up; mapAtSize brings one back to the
// size of the image it came from, to lay over it; heatMap colours one. No Node imports: the CLI
// (--maps, the comparison grid), the service (/v1/compare) and the web page draw the same maps.

import { HF_MIN_SIDE, laplacianOfDifference, SSIM_WINDOW, ssimOfMoments, ssimWeights } from '../kernels/stats/definitions.js';
import { IMAGE_LIMITS, MAX_INPUT_PIXELS } from './limits.js';
import { triangleWeights } from './triangle-filter.js';

/** The scores (detect/scores.ts) that have a per-pixel form. */
export const MAP_SCORES = ['mse', 'hf', 'dssim'] as const;
export type MapScore = (typeof MAP_SCORES)[number];

/**
 * `[n, size * size]` maps of n NCHW samples (square, `channels` x `size` x `size`): per pixel, the
 * mean over channels of (input - reconstruction)^2 for mse; for hf, the squared 3x3 Laplacian of
 * the channel mean of (input - reconstruction) at the interior pixels and 0 on the border, which the
 * score leaves out (its value is the mean over the interior); for dssim, the mean over channels of
 * 1 - SSIM of the 11x11 window centred on each pixel, where the whole window fits, and 0 on the
 * 5-pixel border (the score is the mean over the window centres).
 */
export function errorMaps(score: MapScore, images: Float32Array, reconstructions: Float32Array, n: number, channels: number, size: number): Float32Array {
  const plane = size * size;
  const per = channels * plane;
  if (images.length !== n * per || reconstructions.length !== n * per) throw new RangeError(`maps: tensors do not hold ${n} x ${channels} x ${size} x ${size} values`);
  const out = new Float32Array(n * plane);
  for (let s = 0; s < n; s++) {
    if (score === 'mse') {
      for (let c = 0; c < channels; c++) {
        for (let i = 0; i < plane; i++) out[s * plane + i] += (images[s * per + c * plane + i] - reconstructions[s * per + c * plane + i]) ** 2 / channels;
      }
    } else if (score === 'hf' && size >= HF_MIN_SIDE) {
      const lap = laplacianOfDifference(images, reconstructions, s * per, { channels, height: size, width: size });
      const inner = size - 2;
      for (let y = 0; y < inner; y++) for (let x = 0; x < inner; x++) out[s * plane + (y + 1) * size + x + 1] = lap[y * inner + x] ** 2;
    } else if (score === 'dssim' && size >= SSIM_WINDOW) {
      ssimDissimilarity(images, reconstructions, s * per, channels, size, out.subarray(s * plane, (s + 1) * plane));
    }
  }
  return out;
}

const SSIM_HALF = (SSIM_WINDOW - 1) / 2;

/**
 * Adds the mean over channels of 1 - SSIM at each window centre of one sample into `map` (size x
 * size): the Gaussian window is separable, so each of the five moments (a, b, a^2, b^2, ab) is
 * filtered along rows and then down columns, as the GPU kernel does; kernels/stats/reference.ts's
 * ssimMap is the direct 11x11 sum it is tested against.
 */
function ssimDissimilarity(a: Float32Array, b: Float32Array, offset: number, channels: number, size: number, map: Float32Array): void {
  const g = ssimWeights();
  const valid = size - SSIM_WINDOW + 1;
  // The five moments of each row's windows: a, b, a^2, b^2, ab.
  const [ra, rb, raa, rbb, rab] = Array.from({ length: 5 }, () => new Float64Array(size * valid));
  for (let c = 0; c < channels; c++) {
    const plane = offset + c * size * size;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < valid; x++) {
        let ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
        for (let j = 0; j < SSIM_WINDOW; j++) {
          const va = a[plane + y * size + x + j];
          const vb = b[plane + y * size + x + j];
          ma += g[j] * va;
          mb += g[j] * vb;
          aa += g[j] * va * va;
          bb += g[j] * vb * vb;
          ab += g[j] * va * vb;
        }
        const at = y * valid + x;
        ra[at] = ma;
        rb[at] = mb;
        raa[at] = aa;
        rbb[at] = bb;
        rab[at] = ab;
      }
    }
    for (let y = 0; y < valid; y++) {
      for (let x = 0; x < valid; x++) {
        let ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
        for (let i = 0; i < SSIM_WINDOW; i++) {
          const at = (y + i) * valid + x;
          ma += g[i] * ra[at];
          mb += g[i] * rb[at];
          aa += g[i] * raa[at];
          bb += g[i] * rbb[at];
          ab += g[i] * rab[at];
        }
        map[(y + SSIM_HALF) * size + x + SSIM_HALF] += (1 - ssimOfMoments(ma, mb, aa, bb, ab)) / channels;
      }
    }
  }
}

/**
 * A `size` x `size` map (row-major) resampled to `width` x `height`, with the filter the image was
 * resized with on the way in (Pillow's BILINEAR, triangle-filter.ts), in float64: enlarging
 * interpolates linearly between pixel centres, so the map is smooth under the image instead of
 * blocky; shrinking averages over each output pixel's footprint, so a small error spot is not
 * skipped as point sampling would. The weights are non-negative and sum to 1, so values stay within the
 * map's range (a colour scale made for the map fits) and the mean stays close to the score, though
 * exactly the score only at the model's size. Sizes are bounded like decoded images (limits.ts).
 */
export function mapAtSize(map: Float32Array, size: number, width: number, height: number): Float32Array {
  if (map.length !== size * size) throw new RangeError(`maps: ${map.length} values is not a ${size} x ${size} map`);
  for (const [what, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > IMAGE_LIMITS.maxSide) throw new RangeError(`maps: ${what} must be an integer from 1 to ${IMAGE_LIMITS.maxSide}, got ${v}`);
  }
  if (width * height > MAX_INPUT_PIXELS) throw new RangeError(`maps: ${width}x${height} is larger than the limit of ${MAX_INPUT_PIXELS} pixels`);
  // Rows first (size rows of `width`, small), then columns straight into the output.
  const across = triangleWeights(size, width);
  const rows = new Float64Array(size * width);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let t = 0; t < across.count[x]; t++) v += across.weights[x * across.taps + t] * map[y * size + across.start[x] + t];
      rows[y * width + x] = v;
    }
  }
  const down = triangleWeights(size, height);
  const out = new Float32Array(width * height);
  const line = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    line.fill(0);
    for (let t = 0; t < down.count[y]; t++) {
      const w = down.weights[y * down.taps + t];
      const from = (down.start[y] + t) * width;
      for (let x = 0; x < width; x++) line[x] += w * rows[from + x];
    }
    out.set(line, y * width);
  }
  return out;
}

/**
 * The value at the top of each map's colour ramp when maps must compare across images (the CLI's
 * --maps): a squared difference of 0.25 (a difference of half the [-1, 1] range) for mse, 4x that
 * for hf, whose Laplacian sums five differences, and 1 - SSIM = 1 (no structure in common) for dssim.
 */
export const MAP_FULL_SCALE: Readonly<Record<MapScore, number>> = { mse: 0.25, hf: 1, dssim: 1 };

/** The colour ramp of every map: perceptually ordered, dark to bright (black, purple, orange, yellow; matplotlib's inferno). */
const RAMP: readonly [number, number, number][] = [
  [0, 0, 4],
  [87, 16, 110],
  [188, 55, 84],
  [249, 142, 9],
  [252, 255, 164],
];

/**
 * Writes the ramp's colour at t (0 to 1, clamped) into out[at..at+2]. NaN (a sample whose input or
 * reconstruction holds one) is drawn at the top, as the worst error. Writes in place, without
 * allocating: a map at a photo's size has millions of pixels.
 */
export function rampInto(t: number, out: Uint8Array | Uint8ClampedArray, at: number): void {
  const x = (Number.isNaN(t) ? 1 : Math.min(1, Math.max(0, t))) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const lo = RAMP[i];
  const hi = RAMP[i + 1];
  out[at] = Math.round(lo[0] * (1 - f) + hi[0] * f);
  out[at + 1] = Math.round(lo[1] * (1 - f) + hi[1] * f);
  out[at + 2] = Math.round(lo[2] * (1 - f) + hi[2] * f);
}

/** Pixels, row-major, `channels` bytes each (3: RGB8; 4: RGBA8, as a canvas's ImageData holds). */
export interface Picture {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * One per-pixel map (width x height, row-major) as a heat map, coloured by sqrt(value / scale) so
 * small errors stay visible; maps drawn with the same scale compare. `channels` 4 adds opaque alpha.
 */
export function heatMap(map: Float32Array, width: number, height: number, scale: number, channels: 3 | 4 = 3): Picture {
  if (map.length !== width * height) throw new RangeError(`heat map: ${map.length} values is not ${width} x ${height}`);
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    rampInto(Math.sqrt(map[p] / scale), data, p * channels);
    if (channels === 4) data[p * 4 + 3] = 255;
  }
  return { width, height, data };
}
