// --maps DIR of reconstruct and detect: per sample, one heat map PNG per map score, at the size of
// the image the sample came from so that it lies over that image (the model's input size for .npy
// samples, which have no other), staged in the command's OutputSet so that the maps appear with its
// other outputs or not at all.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMaps, heatMap, mapAtSize, MAP_FULL_SCALE, MAP_SCORES } from '../image/anomaly-maps.js';
import { comparisonGridPng } from '../image/comparison-grid.js';
import type { OutputSet } from '../node/atomic.js';
import type { ImageSize } from '../node/input-batches.js';
import { UsageError } from './args.js';

const MAPS_HELP = [
  'write per-image anomaly maps into the existing DIR: NNNNNN.mse.png (per-pixel squared',
  'error, mean over channels; full scale 0.25), NNNNNN.hf.png (squared Laplacian of the',
  'channel mean of the error, 0 on the border; full scale 1) and NNNNNN.dssim.png (1 - SSIM',
  'of the 11x11 window centred there, 0 on the 5-pixel border; full scale 1), NNNNNN the',
  'sample index. Each map is made at the model\'s input size and resampled (bilinear, as the',
  'input was) to its image\'s width x height; samples of a .npy tensor have no original size',
  'and keep the model\'s',
];

/** The --maps lines of a command's help, the descriptions starting at column `column`. */
export const mapsHelp = (column: number): string => MAPS_HELP.map((line, i) => (i === 0 ? '  --maps DIR'.padEnd(column) : ' '.repeat(column)) + line).join('\n');

/** The --maps option checked before any work: an existing directory, or undefined when not given. */
export function mapsDirectory(option: string | undefined): string | undefined {
  if (option !== undefined && !(existsSync(option) && statSync(option).isDirectory())) throw new UsageError(`--maps: ${option} is not an existing directory`);
  return option;
}

export interface MappedBatch {
  /** Index of the batch's first sample in the whole run. */
  offset: number;
  /** NCHW inputs and their reconstructions at the model's input size. */
  images: Float32Array;
  reconstructions: Float32Array;
  /** Each sample's original size, null where it has none. */
  sizes: readonly (ImageSize | null)[];
}

/** Stages the maps of a batch as DIR/NNNNNN.SCORE.png. */
export async function stageMaps(outputs: OutputSet, dir: string, batch: MappedBatch, channels: number, size: number): Promise<void> {
  const n = batch.sizes.length;
  const plane = size * size;
  for (const score of MAP_SCORES) {
    const maps = errorMaps(score, batch.images, batch.reconstructions, n, channels, size);
    for (let i = 0; i < n; i++) {
      const own = maps.subarray(i * plane, (i + 1) * plane);
      const { width, height } = batch.sizes[i] ?? { width: size, height: size };
      const picture = heatMap(batch.sizes[i] ? mapAtSize(own, size, width, height) : own, width, height, MAP_FULL_SCALE[score]);
      await outputs.stage(join(dir, `${String(batch.offset + i).padStart(6, '0')}.${score}.png`), (tmp) => comparisonGridPng(tmp, picture));
    }
  }
}
