// The model's input shape and the check of a .npy's dtype and shape against it (whole arrays in
// input-reader.ts, row by row in npy-rows.ts).

import { InputError } from '../errors.js';

export interface SampleShape {
  channels: number;
  size: number;
}

/** The number of samples of a .npy of `dtype` and `dims`, which must be float32 [N,C,H,W] of `shape`; `source` names it in errors. */
export function npySampleCount(dtype: string, dims: readonly number[], source: string, shape: SampleShape): number {
  const expected = `float32 [N,${shape.channels},${shape.size},${shape.size}]`;
  if (dtype !== 'f4') throw new InputError(`${source}: expected ${expected}, got dtype ${dtype} [${dims.join(',')}]`);
  const [n, c, h, w] = dims;
  if (dims.length !== 4 || c !== shape.channels || h !== shape.size || w !== shape.size || n < 1) {
    throw new InputError(`${source}: expected ${expected}, got [${dims.join(',')}]`);
  }
  return n;
}
