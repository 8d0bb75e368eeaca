// The model's input pipeline in Node, equal to torchvision's
//   Compose([Resize((size, size)), ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])
// applied to `PIL.Image.open(f).convert('RGB')`: decode with sharp, then the platform-neutral
// resize and normalisation of tensor.ts.

import type { Holding } from './decode-budget.js';
import { decodeRgb8 } from './decode.js';
import { rgb8ToTensor } from './normalize.js';

export { DecodeBudget, DEFAULT_DECODE_BUDGET_BYTES, type Holding } from './decode-budget.js';
export { decodeRgb8, disableDecodeCache, IMAGE_LIMITS, ImageError, MAX_INPUT_PIXELS, type Rgb8Image } from './decode.js';
export { resizeBilinearPil, ResizeError } from './resize.js';
export { IMAGE_EXTENSIONS, isImagePath, listImageFiles } from './files.js';
export { toNormalizedChw } from './normalize.js';

/** An image as the model takes it, and the size it had before the resize (for anomaly maps). */
export interface ImageSample {
  tensor: Float32Array;
  width: number;
  height: number;
}

/**
 * Decodes, resizes to size x size and normalises one image; `label` names it in errors. A `holding`
 * (decode-budget.ts) counts the decode's bytes and is released once the tensor is made, or on failure.
 */
export async function loadImageSample(input: string | Uint8Array, size = 128, label?: string, holding?: Holding): Promise<ImageSample> {
  try {
    const image = await decodeRgb8(input, label, holding);
    return { tensor: rgb8ToTensor(image.data, image.width, image.height, size), width: image.width, height: image.height };
  } finally {
    holding?.release();
  }
}

/** loadImageSample's tensor alone. */
export async function loadImageTensor(input: string | Uint8Array, size = 128, label?: string, holding?: Holding): Promise<Float32Array> {
  return (await loadImageSample(input, size, label, holding)).tensor;
}
