// Images in a browser: the browser's own decoder (createImageBitmap) and a canvas give RGBA pixels,
// which then take the same PIL-exact resize and normalisation as in Node. Orientation comes from
// EXIF as in Node; colour profiles and premultiplication are turned off so the pixels are the
// file's. PNG decodes to the same bytes as sharp; JPEG decoders may differ by a few levels.
// The file size and the JPEG scan count are checked before the browser decodes anything, the sides
// and pixel count as soon as the decoder reports them, against the limits Node uses.
import { FormatError, LimitError } from '../errors.js';
import { GpuError } from '../gpu/device.js';
import { countJpegScans } from '../image/jpeg-scans.js';
import { IMAGE_LIMITS, MAX_INPUT_PIXELS } from '../image/limits.js';
import { rgbaToRgb8, rgb8ToTensor } from '../image/normalize.js';

/** Largest image accepted, as in Node (8192 x 8192). */
export const MAX_BROWSER_PIXELS = MAX_INPUT_PIXELS;

export interface DecodedImage {
  width: number;
  height: number;
  /** Interleaved RGB, row-major. */
  rgb: Uint8Array;
}

export async function decodeImage(blob: Blob, name = (blob as Blob & { name?: string }).name ?? 'image'): Promise<DecodedImage> {
  if (blob.size > IMAGE_LIMITS.maxFileBytes) throw new LimitError(`${name}: ${blob.size} bytes is too large for an image (limit ${IMAGE_LIMITS.maxFileBytes})`);
  // Only a JPEG's bytes are read here (to count its scans); the decoder then takes them from memory,
  // so no file is read twice. Other formats go to the decoder as they are.
  const head = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  let source = blob;
  if (head[0] === 0xff && head[1] === 0xd8) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const scans = countJpegScans(bytes, IMAGE_LIMITS.maxJpegScans);
    if (scans !== null && scans > IMAGE_LIMITS.maxJpegScans) throw new LimitError(`${name}: cannot decode image: JPEG has more than ${IMAGE_LIMITS.maxJpegScans} scans`);
    source = new Blob([bytes], { type: blob.type });
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(source, { premultiplyAlpha: 'none', colorSpaceConversion: 'none', imageOrientation: 'from-image' });
  } catch (err) {
    throw new FormatError(`${name}: cannot decode image (${(err as Error).message || 'unsupported or corrupt'})`);
  }
  try {
    const { width, height } = bitmap;
    if (width > IMAGE_LIMITS.maxSide || height > IMAGE_LIMITS.maxSide) throw new LimitError(`${name}: ${width}x${height} has a side longer than ${IMAGE_LIMITS.maxSide}`);
    if (width * height > MAX_BROWSER_PIXELS) throw new LimitError(`${name}: ${width}x${height} is larger than the limit of ${MAX_BROWSER_PIXELS} pixels`);
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new GpuError(`${name}: no 2D canvas to read pixels with`);
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, width, height, { colorSpace: 'srgb' });
    return { width, height, rgb: rgbaToRgb8(pixels.data, width, height) };
  } finally {
    bitmap.close();
  }
}

/** Decodes one image into the model's [3, size, size] input. */
export async function imageTensor(blob: Blob, size = 128, name?: string): Promise<Float32Array> {
  const image = await decodeImage(blob, name);
  return rgb8ToTensor(image.rgb, image.width, image.height, size);
}
