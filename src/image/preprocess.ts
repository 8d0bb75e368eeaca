// The model's input pipeline, equal to torchvision's
//   Compose([Resize((size, size)), ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])
// applied to `PIL.Image.open(f).convert('RGB')`: decode, Pillow-exact bilinear resize, then
// x/255 and (x - 0.5)/0.5 in float32 arithmetic, laid out CHW.

import { decodeRgb8 } from './decode.js';
import { resizeBilinearPil } from './resize.js';

export { decodeRgb8, ImageError, MAX_INPUT_PIXELS, type Rgb8Image } from './decode.js';
export { resizeBilinearPil, ResizeError } from './resize.js';
export { IMAGE_EXTENSIONS, isImagePath, listImageFiles } from './files.js';

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

/** Decodes, resizes to size x size and normalises one image; `label` names it in errors. */
export async function loadImageTensor(input: string | Buffer, size = 128, label?: string): Promise<Float32Array> {
  const image = await decodeRgb8(input, label);
  return toNormalizedChw(resizeBilinearPil(image.data, image.width, image.height, size, size), size, size);
}
