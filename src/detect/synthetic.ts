// Synthetic "fake" images for calibrating and evaluating the detector: pure noise (the published
// recipe) and manipulations of real images. All work on decoded 8-bit RGB before the model's
// preprocessing, return an image of the same size, and are deterministic: image `index` of a run
// with seed `seed` draws from its own random stream, so results do not depend on batching or order.

import sharp from 'sharp';
import type { Rgb8Image } from '../image/decode.js';
import { mulberry32 } from '../graph/random-params.js';
import { RcaeError } from '../errors.js';

export class SyntheticError extends RcaeError {
  readonly kind = 'input';
}

export const SYNTHETIC_KINDS = ['noise', 'blur', 'jpeg', 'patch-shuffle', 'splice', 'color-shift', 'upscale'] as const;
export type SyntheticKind = (typeof SYNTHETIC_KINDS)[number];
export type Manipulation = Exclude<SyntheticKind, 'noise'>;

export const SYNTHETIC_DESCRIPTIONS: Record<SyntheticKind, string> = {
  noise: 'every RGB byte i.i.d. uniform on 0..255 at the model input size, i.e. uniform noise over [-1, 1] after normalisation',
  blur: 'Gaussian blur, sigma uniform in [1, 2] px per 32 px of the shorter side, edges clamped',
  jpeg: 'JPEG re-encoding (sharp/libjpeg, 4:2:0) at a quality drawn from 5..10, decoded back',
  'patch-shuffle': 'the image cut into a 4x4 grid of patches, permuted (never the identity); leftover edge pixels stay',
  splice: 'a rectangle of 25-50% of each side copied from another image of the set (the next one; the last takes the first) to a random place',
  'color-shift': 'each channel offset by 24..48 levels towards its side with more headroom, clamped to 0..255',
  upscale: 'box-averaged down by an integer factor 2..4, then bilinear back up to the original size',
};

export interface SyntheticSpec {
  kind: SyntheticKind;
  /** How many images; absent: as many as the real set. */
  count?: number;
}

/** `KIND` or `KIND:N`, e.g. `jpeg:500`. */
export function parseSynthetic(text: string): SyntheticSpec {
  const [kind, count, ...rest] = text.split(':');
  if (!(SYNTHETIC_KINDS as readonly string[]).includes(kind) || rest.length > 0) {
    throw new SyntheticError(`unknown synthetic kind '${text}': expected KIND or KIND:N with KIND one of ${SYNTHETIC_KINDS.join(', ')}`);
  }
  if (count === undefined) return { kind: kind as SyntheticKind };
  const n = Number(count);
  if (!/^[0-9]+$/.test(count) || !Number.isSafeInteger(n) || n < 1) throw new SyntheticError(`synthetic count must be a positive integer, got '${count}' in '${text}'`);
  return { kind: kind as SyntheticKind, count: n };
}

// ---- randomness ---------------------------------------------------------------------------------

/** murmur3's 32-bit finaliser: spreads nearby seeds and indices over the whole state space. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Uniform [0, 1) numbers (mulberry32) for image `index` of a run seeded with `seed`. */
export function randomStream(seed: number, index: number): () => number {
  return mulberry32(mix32((seed >>> 0) ^ mix32((index >>> 0) + 0x9e3779b9)));
}

/** Integer uniform on lo..hi inclusive. */
const randomInt = (random: () => number, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

// ---- generators ---------------------------------------------------------------------------------

function checkImage(image: Rgb8Image, what: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 3) {
    throw new SyntheticError(`${what}: expected RGB8 data of width*height*3 bytes, got ${data.length} bytes for ${width}x${height}`);
  }
}

export function noiseImage(width: number, height: number, seed: number, index: number): Rgb8Image {
  const random = randomStream(seed, index);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256);
  return { width, height, data };
}

function gaussianBlur(image: Rgb8Image, sigma: number): Rgb8Image {
  const { width, height, data } = image;
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const weights = kernel.map((k) => k / total);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  // Horizontal pass into float, vertical pass back to bytes.
  const mid = new Float64Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += weights[k + radius] * data[(y * width + clamp(x + k, width)) * 3 + c];
        mid[(y * width + x) * 3 + c] = sum;
      }
    }
  }
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += weights[k + radius] * mid[(clamp(y + k, height) * width + x) * 3 + c];
        out[(y * width + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(sum)));
      }
    }
  }
  return { width, height, data: out };
}

async function jpegRoundTrip(image: Rgb8Image, quality: number): Promise<Rgb8Image> {
  const { width, height, data } = image;
  const encoded = await sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
  const decoded = await sharp(encoded).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (decoded.info.width !== width || decoded.info.height !== height || decoded.info.channels !== 3) {
    throw new SyntheticError(`jpeg: decoder returned ${decoded.info.width}x${decoded.info.height}x${decoded.info.channels} for a ${width}x${height} RGB image`);
  }
  return { width, height, data: new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.length) };
}

const GRID = 4;

function patchShuffle(image: Rgb8Image, random: () => number): Rgb8Image {
  const { width, height, data } = image;
  if (width < GRID || height < GRID) throw new SyntheticError(`patch-shuffle: needs an image of at least ${GRID}x${GRID}, got ${width}x${height}`);
  const pw = Math.floor(width / GRID);
  const ph = Math.floor(height / GRID);
  const order = Array.from({ length: GRID * GRID }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  if (order.every((v, i) => v === i)) order.push(order.shift()!);
  const out = data.slice();
  order.forEach((from, to) => {
    const fx = (from % GRID) * pw;
    const fy = Math.floor(from / GRID) * ph;
    const tx = (to % GRID) * pw;
    const ty = Math.floor(to / GRID) * ph;
    for (let y = 0; y < ph; y++) {
      const src = ((fy + y) * width + fx) * 3;
      out.set(data.subarray(src, src + pw * 3), ((ty + y) * width + tx) * 3);
    }
  });
  return { width, height, data: out };
}

function splice(image: Rgb8Image, donor: Rgb8Image, random: () => number): Rgb8Image {
  const { width, height, data } = image;
  const side = (n: number, limit: number) => Math.max(1, Math.min(limit, Math.round(n * (0.25 + 0.25 * random()))));
  const rw = side(width, donor.width);
  const rh = side(height, donor.height);
  const sx = randomInt(random, 0, donor.width - rw);
  const sy = randomInt(random, 0, donor.height - rh);
  const tx = randomInt(random, 0, width - rw);
  const ty = randomInt(random, 0, height - rh);
  const out = data.slice();
  for (let y = 0; y < rh; y++) {
    const src = ((sy + y) * donor.width + sx) * 3;
    out.set(donor.data.subarray(src, src + rw * 3), ((ty + y) * width + tx) * 3);
  }
  return { width, height, data: out };
}

function colorShift(image: Rgb8Image, random: () => number): Rgb8Image {
  const { width, height, data } = image;
  const pixels = width * height;
  const out = new Uint8Array(data.length);
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let p = 0; p < pixels; p++) sum += data[p * 3 + c];
    // Shifting towards the roomier side guarantees a change unless the channel is already pinned there.
    const shift = randomInt(random, 24, 48) * (sum / pixels < 127.5 ? 1 : -1);
    for (let p = 0; p < pixels; p++) out[p * 3 + c] = Math.min(255, Math.max(0, data[p * 3 + c] + shift));
  }
  return { width, height, data: out };
}

function downUp(image: Rgb8Image, factor: number): Rgb8Image {
  const { width, height, data } = image;
  const sw = Math.ceil(width / factor);
  const sh = Math.ceil(height / factor);
  const small = new Float64Array(sw * sh * 3);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const y1 = Math.min(height, (y + 1) * factor);
      const x1 = Math.min(width, (x + 1) * factor);
      const n = (y1 - y * factor) * (x1 - x * factor);
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let yy = y * factor; yy < y1; yy++) for (let xx = x * factor; xx < x1; xx++) sum += data[(yy * width + xx) * 3 + c];
        small[(y * sw + x) * 3 + c] = sum / n;
      }
    }
  }
  // Bilinear with pixel centres aligned (half-pixel offsets), edges clamped.
  const axis = (dst: number, srcSize: number, dstSize: number) => {
    const s = Math.min(srcSize - 1, Math.max(0, ((dst + 0.5) * srcSize) / dstSize - 0.5));
    const i0 = Math.floor(s);
    return { i0, i1: Math.min(srcSize - 1, i0 + 1), t: s - i0 };
  };
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const ay = axis(y, sh, height);
    for (let x = 0; x < width; x++) {
      const ax = axis(x, sw, width);
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => small[(yy * sw + xx) * 3 + c];
        const top = at(ay.i0, ax.i0) * (1 - ax.t) + at(ay.i0, ax.i1) * ax.t;
        const bottom = at(ay.i1, ax.i0) * (1 - ax.t) + at(ay.i1, ax.i1) * ax.t;
        out[(y * width + x) * 3 + c] = Math.round(top * (1 - ay.t) + bottom * ay.t);
      }
    }
  }
  return { width, height, data: out };
}

export interface ManipulationContext {
  seed: number;
  /** Position of the image in the run: selects its random stream. */
  index: number;
  /** The image splice copies from. */
  donor?: Rgb8Image;
}

/** Applies one manipulation to a real image; the result has the same size. */
export async function manipulate(kind: Manipulation, image: Rgb8Image, context: ManipulationContext): Promise<Rgb8Image> {
  checkImage(image, kind);
  const random = randomStream(context.seed, context.index);
  switch (kind) {
    case 'blur':
      return gaussianBlur(image, (1 + random()) * Math.max(1, Math.min(image.width, image.height) / 32));
    case 'jpeg':
      return jpegRoundTrip(image, randomInt(random, 5, 10));
    case 'patch-shuffle':
      return patchShuffle(image, random);
    case 'splice':
      if (!context.donor) throw new SyntheticError('splice: needs a donor image (a set of at least two images)');
      checkImage(context.donor, 'splice donor');
      return splice(image, context.donor, random);
    case 'color-shift':
      return colorShift(image, random);
    case 'upscale':
      return downUp(image, randomInt(random, 2, 4));
  }
}
