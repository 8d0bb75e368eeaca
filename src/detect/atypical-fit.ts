// Fits the atypical score's Gaussians on real images only: the latents of the even-numbered samples
// give the latent Gaussian; the odd-numbered ones, whose latent distances are thus measured out of
// sample as they will be on new images, give the Gaussian of the six features; every sample gives
// the baseline's Gaussian of input statistics.

import type { Model } from '../model.js';
import { gatherSources } from '../node/input-reader.js';
import { sampleBatches } from '../node/input-batches.js';
import { progressBar } from '../node/progress.js';
import { fitGaussian, mahalanobisRows } from './gaussian.js';
import { INPUT_FEATURES, inputStatistics } from './input-statistics.js';
import { ATYPICAL_FEATURES, atypicalFeatures, type AtypicalFit } from './scores.js';
import { InputError } from '../errors.js';

export interface FitRequest {
  source: string;
  batch: number;
  every: number;
}

export async function fitAtypical(model: Model, request: FitRequest): Promise<{ fit: AtypicalFit; count: number }> {
  const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
  const latents: Float32Array[] = [];
  const stats: { mse: Float32Array; hf: Float32Array }[] = [];
  const inputs: Float64Array[] = [];
  const progress = progressBar('fit (real)', undefined);
  let count = 0;
  try {
    for await (const b of sampleBatches(gatherSources([request.source]), shape, request.batch, request.every)) {
      const n = b.inputs.length;
      const r = await model.measure(b.data, ['mse', 'hf', 'latent']);
      latents.push(r.latent!);
      stats.push({ mse: r.mse!, hf: r.hf! });
      inputs.push(inputStatistics(b.data, n, shape.channels, shape.size));
      count += n;
      progress.update(count);
    }
  } finally {
    progress.finish();
  }
  // Each half needs two samples for a covariance.
  if (count < 4) throw new InputError(`${request.source}: ${count} images are too few to fit the atypical score (need at least 4)`);
  const dim = model.latentSize;
  const even = Math.ceil(count / 2);
  const evenLatents = new Float64Array(even * dim);
  let k = 0;
  let index = 0;
  for (const part of latents) {
    for (let s = 0; s < part.length / dim; s++, index++) if (index % 2 === 0) evenLatents.set(part.subarray(s * dim, (s + 1) * dim), k++ * dim);
  }
  const latent = fitGaussian(evenLatents, even, dim);
  const featureRows: number[] = [];
  index = 0;
  latents.forEach((part, p) => {
    const distances = mahalanobisRows(latent, part, part.length / dim);
    for (let s = 0; s < part.length / dim; s++, index++) {
      if (index % 2 === 1) featureRows.push(...atypicalFeatures(stats[p], s, distances[s], inputs[p]));
    }
  });
  const features = fitGaussian(Float64Array.from(featureRows), count - even, ATYPICAL_FEATURES.length);
  const allInputs = new Float64Array(count * INPUT_FEATURES);
  let at = 0;
  for (const part of inputs) {
    allInputs.set(part, at);
    at += part.length;
  }
  return { fit: { latent, features, input: fitGaussian(allInputs, count, INPUT_FEATURES) }, count };
}
