// Streams input samples through a model a batch at a time, reporting what a measure makes of each
// batch (per-sample scores, and whatever else the caller asks of the same pass) in input order, with
// a progress line for long runs.

import type { Model } from '../model.js';
import { countSamples, gatherSources } from './input-reader.js';
import { sampleBatches, type SampleBatch } from './input-batches.js';
import { progressBar } from './progress.js';

/** Named arrays from one batch: per-sample scores ([n]) or tensors the caller asked for ([n, ...]). */
export type Measured = Record<string, Float32Array>;

export interface ScoredBatch extends SampleBatch {
  /** Index of the batch's first sample in the whole run. */
  offset: number;
  measured: Measured;
}

export interface ScoreOptions {
  batch: number;
  label?: string;
  /** Score only every k-th sample (default 1: all), from the `start`-th (default 0). */
  every?: number;
  start?: number;
  /** What to make of a batch of images (detect/scores.ts scoreMeasure, or the model's own calls). */
  measure: (images: Float32Array) => Promise<Measured>;
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
      yield { ...batch, offset, measured: await options.measure(batch.data) };
      offset += batch.inputs.length;
      progress.update(offset);
    }
  } finally {
    progress.finish();
  }
}
