// Turns request bodies into model input, exactly as `rcae detect` reads files: the same decoder,
// pixel limit (MAX_INPUT_PIXELS), PIL-exact resize and normalisation, and the same .npy checks. What
// cannot be read is a 422 naming the part and the reason. All decodes share one DecodeBudget, so the
// pixels held in memory are bounded whatever the number of concurrent requests (the bodies
// themselves are counted by request-body.ts).

import { ImageError, loadImageTensor, type DecodeBudget } from '../image/preprocess.js';
import { ResizeError } from '../image/resize.js';
import { NpyError, parseNpy } from '../io/npy.js';
import { InputError, npySamples, type SampleShape } from '../pipeline/inputs.js';
import { HttpError } from './http-error.js';
import type { Part } from './request-body.js';

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export const isNpy = (data: Buffer): boolean => data.subarray(0, NPY_MAGIC.length).equals(NPY_MAGIC);

/** Input errors become 422 with their one-line reason; anything else is the server's own failure. */
function unreadable(err: unknown): never {
  if (err instanceof ImageError || err instanceof ResizeError || err instanceof NpyError || err instanceof InputError) throw new HttpError(422, err.message);
  throw err;
}

export interface Samples {
  count: number;
  data: Float32Array;
}

/** The samples of a `.npy` body: float32 [N,C,H,W] with N <= maxCount. */
export function npyBody(data: Buffer, name: string, shape: SampleShape, maxCount: number): Samples {
  let samples: Samples;
  try {
    samples = npySamples(parseNpy(data, name), name, shape);
  } catch (err) {
    unreadable(err);
  }
  if (samples.count > maxCount) throw new HttpError(413, `${name}: ${samples.count} samples; at most ${maxCount} per request`);
  return samples;
}

/** Decodes image parts (any format `rcae detect` reads) into one [N,C,H,W] tensor, in part order. */
export async function imageParts(parts: readonly Part[], shape: SampleShape, budget: DecodeBudget): Promise<Samples> {
  const per = shape.channels * shape.size * shape.size;
  const data = new Float32Array(parts.length * per);
  await Promise.all(parts.map(async (part, i) => {
    if (isNpy(part.data)) throw new HttpError(422, `${part.name}: a .npy goes alone as the whole body, not as a multipart part`);
    const tensor = await loadImageTensor(part.data, shape.size, part.name, await budget.open()).catch(unreadable);
    data.set(tensor, i * per);
  }));
  return { count: parts.length, data };
}
