// Pillow's BILINEAR resize (libImaging/Resample.c, ImagingResample with the triangle filter) for
// 8-bit RGB, reproduced operation for operation so that results match PIL bit for bit: per output
// pixel a window of source pixels weighted by the triangle filter stretched by the downscale factor,
// weights normalised in float64 then turned into 22-bit fixed point, rounding and clamping to uint8
// after each pass, the horizontal pass first. torchvision's Resize on a PIL image calls exactly this.

import { triangleWeights, type TriangleWeights } from './triangle-filter.js';
import { RcaeError } from '../errors.js';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

export class ResizeError extends RcaeError {
  readonly kind = 'input';
}

/** The triangle filter's weights in Pillow's fixed point. */
type Coefficients = Omit<TriangleWeights, 'weights'> & { weights: Int32Array };

/** precompute_coeffs + normalize_coeffs_8bpc for a resize of [0, inSize) onto outSize samples. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const { taps, start, count, weights } = triangleWeights(inSize, outSize);
  const fixed = new Int32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    fixed[i] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
  }
  return { taps, start, count, weights: fixed };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/**
 * Resizes interleaved 8-bit RGB (`rgb.length === w*h*3`) to outW x outH exactly as
 * `PIL.Image.resize((outW, outH), Image.BILINEAR)` does on an RGB image.
 */
export function resizeBilinearPil(rgb: Uint8Array, w: number, h: number, outW: number, outH: number): Uint8Array {
  for (const [what, v] of [['width', w], ['height', h], ['output width', outW], ['output height', outH]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ResizeError(`resize: ${what} must be a positive integer, got ${v}`);
  }
  if (rgb.length !== w * h * 3) throw new ResizeError(`resize: ${rgb.length} bytes is not ${w}x${h} RGB`);
  // Pillow returns a copy when the size does not change.
  if (w === outW && h === outH) return rgb.slice();

  const vertical = coefficients(h, outH);
  let src = rgb;
  let srcRow0 = 0; // source row that row 0 of `src` holds
  let srcW = w;
  if (outW !== w) {
    // Only the source rows the vertical pass reads are resampled horizontally.
    const first = vertical.start[0];
    const last = vertical.start[outH - 1] + vertical.count[outH - 1];
    src = horizontalPass(rgb, w, first, last, outW);
    srcRow0 = first;
    srcW = outW;
  }
  if (outH === h) return src;
  return verticalPass(src, srcW, srcRow0, vertical, outH);
}

function horizontalPass(rgb: Uint8Array, w: number, firstRow: number, endRow: number, outW: number): Uint8Array {
  const { taps, start, count, weights } = coefficients(w, outW);
  const rows = endRow - firstRow;
  const out = new Uint8Array(rows * outW * 3);
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + firstRow) * w * 3;
    for (let xx = 0; xx < outW; xx++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      const kBase = xx * taps;
      let p = rowBase + start[xx] * 3;
      for (let x = 0; x < count[xx]; x++, p += 3) {
        const k = weights[kBase + x];
        r += rgb[p] * k;
        g += rgb[p + 1] * k;
        b += rgb[p + 2] * k;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function verticalPass(rgb: Uint8Array, w: number, row0: number, c: Coefficients, outH: number): Uint8Array {
  const out = new Uint8Array(outH * w * 3);
  const stride = w * 3;
  for (let yy = 0; yy < outH; yy++) {
    const kBase = yy * c.taps;
    const first = c.start[yy] - row0;
    for (let i = 0; i < stride; i++) {
      let v = HALF;
      let p = first * stride + i;
      for (let y = 0; y < c.count[yy]; y++, p += stride) v += rgb[p] * c.weights[kBase + y];
      out[yy * stride + i] = clip8(v);
    }
  }
  return out;
}
