// A comparison picture: inputs on the top row, their reconstructions below, and the mse anomaly map
// (per-pixel squared error, mean over channels) on the bottom row, in anomaly-maps.ts's colour ramp.
// Written as PNG with sharp.

import sharp from 'sharp';
import { errorMaps, rampInto, type Picture } from './anomaly-maps.js';

const GAP = 4;
const BACKGROUND = 255;

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
  const errors = errorMaps('mse', originals, reconstructions, count, channels, size);
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

const pngOf = (grid: Picture) => sharp(Buffer.from(grid.data.buffer, grid.data.byteOffset, grid.data.byteLength), { raw: { width: grid.width, height: grid.height, channels: 3 } }).png();

export async function comparisonGridPng(path: string, grid: Picture): Promise<void> {
  await pngOf(grid).toFile(path);
}

/** The PNG file's bytes, for sending instead of writing. */
export function comparisonGridPngBytes(grid: Picture): Promise<Buffer> {
  return pngOf(grid).toBuffer();
}
