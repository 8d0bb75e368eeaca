// What the detection scores cost beside the MSE: GPU time per kernel of a forward pass with every
// statistic (timestamp queries around each dispatch, as `rcae bench`'s per-layer profile), repeated
// and reduced to medians, plus the CPU time of the atypical score's two Mahalanobis distances per
// sample (a 512-wide latent and the 7 features) and its input statistics.
// Usage: node dist/bench/scores.js [--batch 64] [--repeats 5] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import '../src/node/platform.js';
import { fitGaussian, mahalanobis } from '../src/detect/gaussian.js';
import { inputStatistics } from '../src/detect/input-statistics.js';
import { mulberry32 } from '../src/graph/random-params.js';
import { loadModel } from '../src/model.js';
import { DEFAULT_MODEL_PATH } from '../src/node/platform.js';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const { values } = parseArgs({ options: { batch: { type: 'string', default: '64' }, repeats: { type: 'string', default: '5' }, json: { type: 'string' } } });
const batch = Number(values.batch);
const repeats = Number(values.repeats);
const model = await loadModel(DEFAULT_MODEL_PATH);
try {
  const stats = new Set(['mse', 'hf', 'ssim']);
  const forward: number[] = [];
  const perStat: Record<string, number[]> = { mse: [], hf: [], ssim: [] };
  for (let r = 0; r < repeats; r++) {
    const rows = await model.profileLayers(batch, ['error', 'hf', 'ssim']);
    forward.push(rows.filter((row) => !stats.has(row.kernel)).reduce((s, row) => s + row.ms, 0));
    for (const row of rows) if (stats.has(row.kernel)) perStat[row.kernel].push(row.ms);
  }
  // The atypical score on the CPU: a fit of the latent's size, then both distances for `batch` samples.
  const dim = model.latentSize;
  const rand = mulberry32(1);
  const rows = Float64Array.from({ length: 4 * dim * dim }, () => rand() - 0.5);
  const latentFit = fitGaussian(rows, 4 * dim, dim);
  const featureFit = fitGaussian(Float64Array.from({ length: 700 }, () => rand()), 100, 7);
  const images = Float32Array.from({ length: batch * model.imageSize }, () => rand() * 2 - 1);
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    const input = inputStatistics(images, batch, model.arch.inChannels, model.arch.imageSize);
    for (let s = 0; s < batch; s++) mahalanobis(featureFit, [mahalanobis(latentFit, rows, s * dim), 0, 0, 0, ...input.subarray(s * 3, s * 3 + 3)]);
    cpu.push(performance.now() - started);
  }
  const base = median(forward) + median(perStat.mse);
  const result = {
    machine: 'see bench/NOTES.md',
    adapter: model.gpu.adapter.description || model.gpu.adapter.device,
    batch,
    repeats,
    ms: { forward: median(forward), mse: median(perStat.mse), hf: median(perStat.hf), ssim: median(perStat.ssim), atypical_cpu: median(cpu) },
    extra_vs_mse_percent: {
      hf: (100 * median(perStat.hf)) / base,
      ssim: (100 * median(perStat.ssim)) / base,
      atypical: (100 * (median(perStat.hf) + median(perStat.ssim) + median(cpu))) / base,
    },
  };
  const text = JSON.stringify(result, null, 2);
  if (values.json) writeFileSync(values.json, text + '\n');
  console.log(text);
} finally {
  model.dispose();
}
