// Measures the two sets of reconstruction errors that calibration and evaluation compare: a real set
// from a source, and a fake set from another source or made synthetically (see synthetic.ts).

import type { SampleBatch } from '../pipeline/inputs.js';
import { progressBar } from '../pipeline/progress.js';
import { scoreInputs } from '../pipeline/scoring.js';
import type { Model } from '../model.js';
import { SYNTHETIC_DESCRIPTIONS, type SyntheticSpec } from './synthetic.js';
import { syntheticBatches } from './synthetic-source.js';
import { concatFloat32 } from '../pipeline/concat.js';

export interface ErrorSetRequest {
  /** Real inputs: image files, directories, .tar/.tar.gz archives, or .npy tensors. */
  real: string;
  /** Fake inputs, as for real; or `synthetic`. */
  fake?: string;
  synthetic?: SyntheticSpec;
  seed: number;
  batch: number;
  /** Use every k-th input of each source (default 1: all). */
  every?: number;
}

export interface ErrorSets {
  real: Float32Array;
  fake?: Float32Array;
  /** What each set is, in words a reader can reproduce. */
  realSource: string;
  fakeSource?: string;
}

const images = (n: number) => `${n} image${n === 1 ? '' : 's'}`;

async function sourceErrors(model: Model, source: string, batch: number, label: string, every: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const b of scoreInputs(model, [source], { batch, label, every })) parts.push(b.error);
  return concatFloat32(parts);
}

async function batchErrors(model: Model, batches: AsyncIterable<SampleBatch>, label: string, total: number): Promise<Float32Array> {
  const progress = progressBar(label, total);
  const parts: Float32Array[] = [];
  let done = 0;
  try {
    for await (const b of batches) {
      parts.push(await model.reconstructionError(b.data));
      done += b.inputs.length;
      progress.update(done);
    }
  } finally {
    progress.finish();
  }
  return concatFloat32(parts);
}

export async function measureErrorSets(model: Model, request: ErrorSetRequest): Promise<ErrorSets> {
  const { real: realArg, fake: fakeArg, synthetic, seed, batch } = request;
  const every = request.every ?? 1;
  const subset = every > 1 ? `, every ${every}th` : '';
  const real = await sourceErrors(model, realArg, batch, 'real', every);
  const realSource = `${realArg} (${images(real.length)}${subset})`;
  if (fakeArg !== undefined) {
    const fake = await sourceErrors(model, fakeArg, batch, 'fake', every);
    return { real, fake, realSource, fakeSource: `${fakeArg} (${images(fake.length)}${subset})` };
  }
  if (!synthetic) return { real, realSource };
  const count = synthetic.count ?? real.length;
  const shape = { channels: model.arch.inChannels, size: model.arch.imageSize };
  const batches = syntheticBatches({ kind: synthetic.kind, count, seed, realArgs: [realArg], every }, shape, batch);
  const fake = await batchErrors(model, batches, `fake (${synthetic.kind})`, count);
  const made = synthetic.kind === 'noise' ? `${images(count)} of ${shape.size}x${shape.size}` : `applied to the first ${count} images of ${realArg}${subset}`;
  return { real, fake, realSource, fakeSource: `synthetic ${synthetic.kind} (${SYNTHETIC_DESCRIPTIONS[synthetic.kind]}), ${made}, seed ${seed}` };
}
