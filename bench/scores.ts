// What the detection scores cost beside the MSE, two ways in one run:
//  - GPU time per statistics kernel of a forward pass with every statistic (timestamp queries around
//    each dispatch, as `rcae bench`'s per-layer profile), reduced to medians;
//  - end to end, what a user waits for: scoreMeasure(model, [score]) on the same batch of images,
//    the scores taken in turn within each repeat so that load drifts touch them alike, medians. For
//    atypical this includes its CPU part (the input statistics, computed while the GPU runs, and the
//    two Mahalanobis distances) under a fit of the model's latent width made from random rows: the
//    cost depends on the widths, not on the values.
// Usage: node dist/bench/scores.js [--batch 64] [--repeats 5] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import '../src/node/node-platform.js';
import { fitGaussian } from '../src/detect/gaussian.js';
import { INPUT_FEATURES } from '../src/detect/input-statistics.js';
import { ATYPICAL_FEATURES, type AtypicalFit, scoreMeasure, SCORES } from '../src/detect/scores.js';
import { mulberry32 } from '../src/graph/random-params.js';
import { loadModel } from '../src/model.js';
import { DEFAULT_MODEL_PATH } from '../src/node/node-platform.js';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const extra = (ms: number, base: number) => (100 * (ms - base)) / base;

const { values } = parseArgs({ options: { batch: { type: 'string', default: '64' }, repeats: { type: 'string', default: '5' }, json: { type: 'string' } } });
const batch = Number(values.batch);
const repeats = Number(values.repeats);
const model = await loadModel(DEFAULT_MODEL_PATH);
try {
  const stats = new Set(['mse', 'hf', 'ssim']);
  const forward: number[] = [];
  const perStat: Record<string, number[]> = { mse: [], hf: [], ssim: [] };
  for (let r = 0; r < repeats; r++) {
    const rows = await model.profileLayers(batch, ['mse', 'hf', 'ssim']);
    forward.push(rows.filter((row) => !stats.has(row.kernel)).reduce((s, row) => s + row.ms, 0));
    for (const row of rows) if (stats.has(row.kernel)) perStat[row.kernel].push(row.ms);
  }
  const gpu = { forward: median(forward), mse: median(perStat.mse), hf: median(perStat.hf), ssim: median(perStat.ssim) };
  const gpuBase = gpu.forward + gpu.mse;

  const rand = mulberry32(1);
  const randomFit = (dim: number) => fitGaussian(Float64Array.from({ length: 4 * dim * dim }, () => rand() - 0.5), 4 * dim, dim);
  const fit: AtypicalFit = { latent: randomFit(model.latentSize), features: randomFit(ATYPICAL_FEATURES.length), input: randomFit(INPUT_FEATURES) };
  const images = Float32Array.from({ length: batch * model.imageSize }, () => rand() * 2 - 1);
  const measures = Object.fromEntries(SCORES.map((s) => [s, scoreMeasure(model, [s], fit)]));
  const wall: Record<string, number[]> = Object.fromEntries(SCORES.map((s) => [s, []]));
  for (const s of SCORES) await measures[s](images); // pipelines and bind groups built outside the timing
  for (let r = 0; r < repeats; r++) {
    for (const s of SCORES) {
      const started = performance.now();
      await measures[s](images);
      wall[s].push(performance.now() - started);
    }
  }
  const endToEnd = Object.fromEntries(SCORES.map((s) => [s, median(wall[s])]));
  const result = {
    machine: 'see bench/NOTES.md',
    adapter: model.gpu.adapter.description || model.gpu.adapter.device,
    batch,
    repeats,
    gpu_ms: gpu,
    gpu_extra_vs_mse_percent: { hf: (100 * gpu.hf) / gpuBase, ssim: (100 * gpu.ssim) / gpuBase },
    end_to_end_ms: endToEnd,
    end_to_end_extra_vs_mse_percent: { hf: extra(endToEnd.hf, endToEnd.mse), ssim: extra(endToEnd.ssim, endToEnd.mse), atypical: extra(endToEnd.atypical, endToEnd.mse) },
  };
  const text = JSON.stringify(result, null, 2);
  if (values.json) writeFileSync(values.json, text + '\n');
  console.log(text);
} finally {
  model.dispose();
}
