// Streams input samples through a model a batch at a time, reporting per-sample errors (and, when
// asked, reconstructions) in input order, with a progress line for long runs.

import type { Model } from '../model.js';
import { countSamples, gatherSources, sampleBatches, type SampleBatch } from './inputs.js';
import { progressBar } from './progress.js';

export interface ScoredBatch extends SampleBatch {
  /** Index of the batch's first sample in the whole run. */
  offset: number;
  error: Float32Array;
  reconstruction?: Float32Array;
}

export interface ScoreOptions {
  batch: number;
  withReconstruction?: boolean;
  label?: string;
  /** Score only every k-th sample (default 1: all), from the `start`-th (default 0). */
  every?: number;
  start?: number;
  /** The per-sample score of a batch of images (default: the model's reconstruction error, MSE). */
  measure?: (images: Float32Array) => Promise<Float32Array>;
}

export async function* scoreInputs(model: Model, args: readonly string[], options: ScoreOptions): AsyncGenerator<ScoredBatch> {
  const sources = gatherSources(args, { stdin: true });
  const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
  const every = options.every ?? 1;
  const start = options.start ?? 0;
  const total = countSamples(sources);
  const progress = progressBar(options.label ?? 'scoring', total === undefined ? undefined : Math.max(0, Math.ceil((total - start) / every)));
  let offset = 0;
  try {
    for await (const batch of sampleBatches(sources, shape, options.batch, every, start)) {
      if (options.withReconstruction) {
        const r = await model.reconstructWithError(batch.data);
        yield { ...batch, offset, error: r.error, reconstruction: r.reconstruction };
      } else {
        yield { ...batch, offset, error: await (options.measure ?? ((x) => model.reconstructionError(x)))(batch.data) };
      }
      offset += batch.inputs.length;
      progress.update(offset);
    }
  } finally {
    progress.finish();
  }
}
