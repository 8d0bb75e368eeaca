// Turns request bodies into model input through the CLI's reader (node/input-reader.ts): the same
// decoder, pixel limit (MAX_INPUT_PIXELS), PIL-exact resize and normalisation, and the same .npy
// checks. What cannot be read is a 422 naming the part and the reason: the readers' errors are of
// kind input or format, which the server answers by kind (STATUS_OF_KIND in http-error.ts). All
// decodes share one DecodeBudget, so the pixels held in memory are bounded whatever the number of
// concurrent requests (the bodies themselves are counted by request-body.ts).

import type { DecodeBudget } from '../image/preprocess.js';
import { isNpyBytes, npyBytesSamples, readImage, type Samples, type SampleShape } from '../node/input-reader.js';
import { HttpError } from './http-error.js';
import type { Part } from './request-body.js';

/** The samples of a `.npy` body: float32 [N,C,H,W] with N <= maxCount. */
export function npyBody(data: Buffer, name: string, shape: SampleShape, maxCount: number): Samples {
  const samples = npyBytesSamples(data, name, shape);
  if (samples.count > maxCount) throw new HttpError(413, `${name}: ${samples.count} samples; at most ${maxCount} per request`);
  return samples;
}

/** Decodes image parts (any format `rcae detect` reads) into one [N,C,H,W] tensor, in part order. */
export async function imageParts(parts: readonly Part[], shape: SampleShape, budget: DecodeBudget): Promise<Samples> {
  const per = shape.channels * shape.size * shape.size;
  const data = new Float32Array(parts.length * per);
  await Promise.all(parts.map(async (part, i) => {
    if (isNpyBytes(part.data)) throw new HttpError(422, `${part.name}: a .npy goes alone as the whole body, not as a multipart part`);
    const { tensor } = await readImage(part.data, shape, part.name, await budget.open());
    data.set(tensor, i * per);
  }));
  return { count: parts.length, data };
}
