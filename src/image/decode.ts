// Decodes an image file or buffer to 8-bit RGB the way `PIL.Image.open(f).convert('RGB')` sees it:
// grey is replicated to RGB, alpha is dropped (not composited), palettes are expanded, 16-bit
// samples keep their high byte, and embedded ICC profiles are ignored as PIL ignores them.
// Deliberate differences from PIL (see tools/README.md): EXIF orientation is applied (PIL and
// torchvision leave photos sideways), 16-bit greyscale keeps its high byte (PIL clips it to white),
// and CMYK JPEGs go through sharp's colour management instead of PIL's naive formula.

import sharp from 'sharp';
import { quotedMessage } from '../printable.js';
import { FileRefusedError, readRegularFileAsync } from '../io/regular-file.js';
import type { Holding } from './decode-budget.js';
import { countJpegScans } from './jpeg-scans.js';
import { IMAGE_LIMITS, MAX_INPUT_PIXELS } from './limits.js';
import { RcaeError } from '../errors.js';

export { IMAGE_LIMITS, MAX_INPUT_PIXELS };

export interface Rgb8Image {
  width: number;
  height: number;
  /** Interleaved RGB, row-major, width*height*3 bytes. */
  data: Uint8Array;
}

export class ImageError extends RcaeError {
  readonly kind = 'input';
}

const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

/**
 * Turns off libvips' operation cache (up to 50 MB by default), for long-running processes that
 * decode each input once, where the cache would only hold memory.
 */
export function disableDecodeCache(): void {
  sharp.cache(false);
}

/**
 * With a `holding`, the file's bytes (when `input` is a path) and then the decoded pixels are taken
 * from its budget before they are held, and the holding is settled once the pixels are counted; the
 * caller releases it when done with the pixels. Bytes passed in are the caller's to count.
 */
export async function decodeRgb8(input: string | Uint8Array, label?: string, holding?: Holding): Promise<Rgb8Image> {
  const name = label ?? (typeof input === 'string' ? input : 'image buffer');
  let bytes: Uint8Array;
  try {
    bytes = typeof input === 'string' ? await readRegularFileAsync(input, IMAGE_LIMITS.maxFileBytes, 'an image', holding?.grow) : input;
  } catch (err) {
    throw err instanceof FileRefusedError ? new ImageError(err.message) : err;
  }
  if (bytes.length > IMAGE_LIMITS.maxFileBytes) throw new ImageError(`${name}: ${bytes.length} bytes is too large for an image (limit ${IMAGE_LIMITS.maxFileBytes})`);
  const decoded = await decodeRaw(bytes, holding).catch((err: Error) => {
    throw new ImageError(`${name}: cannot decode image: ${quotedMessage(err.message)}`);
  });
  const { width, height, channels } = decoded.info;
  const src = decoded.data;
  if (src.length !== width * height * channels || channels < 1 || channels > 4) {
    throw new ImageError(`${name}: decoder returned ${src.length} bytes for ${width}x${height}x${channels}`);
  }
  const pixels = new Uint8Array(src.buffer, src.byteOffset, src.length);
  if (channels === 3) return { width, height, data: pixels };
  if (channels === 4) {
    // RGB + alpha: the alpha dropped in place (each pixel moves to a lower offset), no second copy.
    for (let p = 0; p < width * height; p++) {
      pixels[p * 3] = pixels[p * 4];
      pixels[p * 3 + 1] = pixels[p * 4 + 1];
      pixels[p * 3 + 2] = pixels[p * 4 + 2];
    }
    return { width, height, data: pixels.subarray(0, width * height * 3) };
  }
  // 1: grey, 2: grey + alpha, replicated into a new RGB array.
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = pixels[p * channels];
  return { width, height, data };
}

/**
 * Bytes the decode holds besides its input: the decoder's output (at most the header's channels,
 * 8-bit), the RGB copy made from grey, and the whole image libvips keeps to apply an EXIF orientation.
 */
function pixelBytes(width: number, height: number, channels = 4, orientation = 1): number {
  const pixels = width * height;
  return pixels * (channels + (channels < 3 ? 3 : 0) + (orientation > 1 ? channels : 0));
}

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);

async function decodeRaw(input: Uint8Array, holding?: Holding) {
  const scans = countJpegScans(input, IMAGE_LIMITS.maxJpegScans);
  if (scans !== null && scans > IMAGE_LIMITS.maxJpegScans) throw new ImageError(`JPEG has more than ${IMAGE_LIMITS.maxJpegScans} scans`);
  // failOn 'error': reject truncated or corrupt pixel data, tolerate the benign warnings PIL tolerates.
  const image = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', ignoreIcc: true }).timeout({ seconds: IMAGE_LIMITS.timeoutSeconds });
  const { format, width = 0, height = 0, pages = 1, channels, orientation } = await image.metadata();
  if (!format || !RASTER_FORMATS.has(format)) throw new ImageError(`unsupported format ${format ?? 'unknown'}`);
  if (width > IMAGE_LIMITS.maxSide || height > IMAGE_LIMITS.maxSide) throw new ImageError(`${width}x${height} has a side longer than ${IMAGE_LIMITS.maxSide}`);
  if (pages > IMAGE_LIMITS.maxPages) throw new ImageError(`${pages} pages is more than ${IMAGE_LIMITS.maxPages}`);
  // Over the pixel limit, sharp refuses before decoding: nothing to count.
  const share = width * height <= MAX_INPUT_PIXELS ? pixelBytes(width, height, channels, orientation) : 0;
  if (input.length + share > IMAGE_LIMITS.maxDecodeBytes) {
    throw new ImageError(`decoding would hold ${mib(input.length + share)} MiB (file and pixels), more than the ${mib(IMAGE_LIMITS.maxDecodeBytes)} MiB allowed`);
  }
  if (holding) {
    await holding.grow(share);
    holding.settle();
  }
  // No resize happens in sharp, so JPEG shrink-on-load never changes the pixels.
  const decoded = await image.autoOrient().raw().toBuffer({ resolveWithObject: true });
  // The encoded bytes are not needed any more; the pixels are until the caller releases them.
  holding?.keep(share);
  return decoded;
}
