// Decoded pixels to the model's input tensor, the part of torchvision's
//   Compose([Resize((size, size)), ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])
// that follows the decoder: Pillow-exact bilinear resize, then x/255 and (x - 0.5)/0.5 in float32
// arithmetic, laid out CHW. Plain typed arrays, so Node (sharp) and browsers (canvas) share it.
import { resizeBilinearPil } from './resize.js';

/** Normalised value of each byte, rounded to float32 after every step as torch does. */
const NORMALIZED = Float32Array.from({ length: 256 }, (_, v) => (Math.fround(Math.fround(v / 255) - 0.5)) * 2);

/** Interleaved 8-bit RGB (h rows of w pixels) to a [3, h, w] float32 tensor in [-1, 1]. */
export function toNormalizedChw(rgb8: Uint8Array, w: number, h: number): Float32Array {
  const plane = w * h;
  if (rgb8.length !== plane * 3) throw new RangeError(`toNormalizedChw: ${rgb8.length} bytes is not ${w}x${h} RGB`);
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    out[p] = NORMALIZED[rgb8[p * 3]];
    out[plane + p] = NORMALIZED[rgb8[p * 3 + 1]];
    out[2 * plane + p] = NORMALIZED[rgb8[p * 3 + 2]];
  }
  return out;
}

/** Interleaved RGBA to RGB with the alpha dropped, not composited (PIL's convert('RGB')). */
export function rgbaToRgb8(rgba: Uint8Array | Uint8ClampedArray, w: number, h: number): Uint8Array {
  const plane = w * h;
  if (rgba.length !== plane * 4) throw new RangeError(`rgbaToRgb8: ${rgba.length} bytes is not ${w}x${h} RGBA`);
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    rgb[p * 3] = rgba[p * 4];
    rgb[p * 3 + 1] = rgba[p * 4 + 1];
    rgb[p * 3 + 2] = rgba[p * 4 + 2];
  }
  return rgb;
}

/** An image's RGB pixels as the model's [3, size, size] input. */
export function rgb8ToTensor(rgb8: Uint8Array, w: number, h: number, size: number): Float32Array {
  return toNormalizedChw(resizeBilinearPil(rgb8, w, h, size, size), size, size);
}
