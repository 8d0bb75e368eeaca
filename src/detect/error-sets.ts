// Measures the two sets of scores that calibration and evaluation compare: a real set from a source,
// and a fake set from another source or made synthetically (see synthetic.ts). Each set holds one
// array per measured column (a score name; by default just the MSE, 'mse').

import type { SampleBatch } from '../node/input-batches.js';
import { progressBar } from '../node/progress.js';
import { scoreInputs, type Measured, type ScoreOptions } from '../node/score-stream.js';
import type { Model } from '../model.js';
import { SYNTHETIC_DESCRIPTIONS, type SyntheticSpec } from './synthetic.js';
import { syntheticBatches } from './synthetic-source.js';
import { concatFloat32 } from '../io/concat.js';

export interface ErrorSetRequest {
  /** Real inputs: image files, directories, .tar/.tar.gz archives, or .npy tensors. */
  real: string;
  /** Fake inputs, as for real; or `synthetic`. */
  fake?: string;
  synthetic?: SyntheticSpec;
  seed: number;
  batch: number;
  /** Use every k-th input of each source (default 1: all), from the `start`-th (default 0). */
  every?: number;
  start?: number;
  /** Each column's per-sample values for a batch of images, from one pass (default: { mse }). */
  measure?: Measure;
}

/** Each column's values over a set: the measures of its batches, concatenated. */
export type ScoreSet = Measured;
export type Measure = ScoreOptions['measure'];

export interface ErrorSets {
  real: ScoreSet;
  fake?: ScoreSet;
  /** What each set is, in words a reader can reproduce. */
  realSource: string;
  fakeSource?: string;
}

const images = (n: number) => `${n} image${n === 1 ? '' : 's'}`;

function concatColumns(parts: ScoreSet[]): ScoreSet {
  const names = parts.length > 0 ? Object.keys(parts[0]) : [];
  return Object.fromEntries(names.map((name) => [name, concatFloat32(parts.map((p) => p[name]))]));
}

async function sourceErrors(model: Model, measure: Measure, source: string, batch: number, label: string, every: number, start: number): Promise<ScoreSet> {
  const parts: ScoreSet[] = [];
  for await (const b of scoreInputs(model, [source], { batch, label, every, start, measure })) parts.push(b.measured);
  return concatColumns(parts);
}

async function batchErrors(measure: Measure, batches: AsyncIterable<SampleBatch>, label: string, total: number): Promise<ScoreSet> {
  const progress = progressBar(label, total);
  const parts: ScoreSet[] = [];
  let done = 0;
  try {
    for await (const b of batches) {
      parts.push(await measure(b.data));
      done += b.inputs.length;
      progress.update(done);
    }
  } finally {
    progress.finish();
  }
  return concatColumns(parts);
}

const sizeOf = (set: ScoreSet) => Object.values(set)[0]?.length ?? 0;

export async function measureErrorSets(model: Model, request: ErrorSetRequest): Promise<ErrorSets> {
  const { real: realArg, fake: fakeArg, synthetic, seed, batch } = request;
  const every = request.every ?? 1;
  const start = request.start ?? 0;
  const measure: Measure = request.measure ?? (async (x) => ({ mse: await model.reconstructionError(x) }));
  const subset = every > 1 ? `, every ${every}th${start > 0 ? ` from image ${start}` : ''}` : '';
  const real = await sourceErrors(model, measure, realArg, batch, 'real', every, start);
  const realSource = `${realArg} (${images(sizeOf(real))}${subset})`;
  if (fakeArg !== undefined) {
    const fake = await sourceErrors(model, measure, fakeArg, batch, 'fake', every, start);
    return { real, fake, realSource, fakeSource: `${fakeArg} (${images(sizeOf(fake))}${subset})` };
  }
  if (!synthetic) return { real, realSource };
  const count = synthetic.count ?? sizeOf(real);
  const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
  const batches = syntheticBatches({ kind: synthetic.kind, count, seed, realArgs: [realArg], every, start }, shape, batch);
  const fake = await batchErrors(measure, batches, `fake (${synthetic.kind})`, count);
  const made = synthetic.kind === 'noise' ? `${images(count)} of ${shape.size}x${shape.size}` : `applied to the first ${count} images of ${realArg}${subset}`;
  return { real, fake, realSource, fakeSource: `synthetic ${synthetic.kind} (${SYNTHETIC_DESCRIPTIONS[synthetic.kind]}), ${made}, seed ${seed}` };
}
