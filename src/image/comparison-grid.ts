// A comparison picture: inputs on the top row, their reconstructions below, and a heat map of the
// per-pixel squared error (mean over channels) on the bottom row, coloured by its square root so
// small differences stay visible. Written as PNG with sharp.

import sharp from 'sharp';

const GAP = 4;
const BACKGROUND = 255;

/** A perceptually ordered dark-to-bright ramp (black, purple, orange, yellow) for error maps. */
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
function rampInto(t: number, out: Uint8Array, at: number): void {
  const x = (Number.isNaN(t) ? 1 : Math.min(1, Math.max(0, t))) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const lo = RAMP[i];
  const hi = RAMP[i + 1];
  out[at] = Math.round(lo[0] * (1 - f) + hi[0] * f);
  out[at + 1] = Math.round(lo[1] * (1 - f) + hi[1] * f);
  out[at + 2] = Math.round(lo[2] * (1 - f) + hi[2] * f);
}

const toByte = (v: number) => Math.max(0, Math.min(255, Math.round((v * 0.5 + 0.5) * 255)));

export interface GridOptions {
  /** Squared error mapped to the top of the colour ramp (default: the largest in the grid). */
  errorScale?: number;
}

/**
 * Renders `count` samples, NCHW float32 in [-1, 1], into an RGB8 picture of 3 rows. Returns the
 * raw pixels and the scale used for the heat map.
 */
export function comparisonGrid(originals: Float32Array, reconstructions: Float32Array, count: number, channels: number, size: number, options: GridOptions = {}) {
  const per = channels * size * size;
  if (originals.length !== count * per || reconstructions.length !== count * per) throw new RangeError('grid: tensors do not hold count x C x H x W values');
  const width = count * size + (count + 1) * GAP;
  const height = 3 * size + 4 * GAP;
  const data = new Uint8Array(width * height * 3).fill(BACKGROUND);
  const plane = size * size;
  const errors = new Float32Array(count * plane);
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < plane; p++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += (originals[n * per + c * plane + p] - reconstructions[n * per + c * plane + p]) ** 2;
      errors[n * plane + p] = sum / channels;
    }
  }
  const scale = options.errorScale ?? errors.reduce((m, e) => Math.max(m, e), 1e-12);
  const at = (row: number, n: number, p: number) => {
    const x = GAP + n * (size + GAP) + (p % size);
    const y = GAP + row * (size + GAP) + Math.floor(p / size);
    return (y * width + x) * 3;
  };
  const put = (row: number, n: number, p: number, rgb: readonly number[]) => data.set(rgb, at(row, n, p));
  const colour = (t: Float32Array, n: number, p: number) => Array.from({ length: 3 }, (_, c) => toByte(t[n * per + Math.min(c, channels - 1) * plane + p]));
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < plane; p++) {
      put(0, n, p, colour(originals, n, p));
      put(1, n, p, colour(reconstructions, n, p));
      rampInto(Math.sqrt(errors[n * plane + p] / scale), data, at(2, n, p));
    }
  }
  return { width, height, data, errorScale: scale };
}

type RgbPicture = { width: number; height: number; data: Uint8Array };

const pngOf = (grid: RgbPicture) => sharp(Buffer.from(grid.data.buffer, grid.data.byteOffset, grid.data.byteLength), { raw: { width: grid.width, height: grid.height, channels: 3 } }).png();

export async function comparisonGridPng(path: string, grid: RgbPicture): Promise<void> {
  await pngOf(grid).toFile(path);
}

/** The PNG file's bytes, for sending instead of writing. */
export function comparisonGridPngBytes(grid: RgbPicture): Promise<Buffer> {
  return pngOf(grid).toBuffer();
}

/**
 * One per-pixel map (width x height, row-major) as an RGB8 heat map, coloured by sqrt(value / scale)
 * like the grid's error row, so maps drawn with the same scale compare.
 */
export function heatMap(map: Float32Array, width: number, height: number, scale: number): RgbPicture {
  if (map.length !== width * height) throw new RangeError(`heat map: ${map.length} values is not ${width} x ${height}`);
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rampInto(Math.sqrt(map[p] / scale), data, p * 3);
  return { width, height, data };
}
