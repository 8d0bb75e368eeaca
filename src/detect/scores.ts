// The detection scores a model can give a sample, all higher-is-more-fake and all computed from one
// forward pass: the per-sample statistics come from the GPU (kernels/mse, kernels/stats) in the same
// command buffer; only `atypical` combines them, with the latent, on the CPU under a fitted Gaussian.

import type { Endpoint, RunResult } from '../graph/executor.js';
import type { Model } from '../model.js';
import { type GaussianFit, mahalanobis, mahalanobisRows } from './gaussian.js';
import { INPUT_FEATURES, inputStatistics } from './input-statistics.js';
import { RcaeError } from '../errors.js';

export const SCORES = ['mse', 'hf', 'ssim', 'atypical'] as const;
export type ScoreName = (typeof SCORES)[number];
/** What can be measured per sample: a score, or the model-free baseline (input statistics only). */
export type Column = ScoreName | 'baseline';

export const SCORE_DESCRIPTIONS: Record<Column, string> = {
  mse: 'mean squared error over C*H*W between the normalised input and its reconstruction (the published score)',
  hf: 'high-frequency error: mean over the interior pixels of the squared 3x3 Laplacian of the channel mean of (input - reconstruction)',
  ssim: '1 - SSIM(input, reconstruction): 11x11 Gaussian window (sigma 1.5), data range 2, valid windows, mean over channels',
  atypical: 'two-sided: Mahalanobis distance of (log mse, log hf, latent Mahalanobis distance, and the baseline\'s three input statistics) under a Gaussian fitted on real images',
  baseline: 'model-free two-sided baseline: Mahalanobis distance of (log variance, log total variation, log Laplacian energy) of the input under a Gaussian fitted on real images',
};

export class ScoreError extends RcaeError {
  readonly kind = 'usage';
}

export function parseScore(text: string): ScoreName {
  if ((SCORES as readonly string[]).includes(text)) return text as ScoreName;
  throw new ScoreError(`unknown score '${text}' (one of ${SCORES.join(', ')})`);
}

/** The fits the two-sided scores need, made from real images only (atypical-fit.ts). */
export interface AtypicalFit {
  /** The latents of real images ([latentDim]). */
  latent: GaussianFit;
  /** The ATYPICAL_FEATURES of real images. */
  features: GaussianFit;
  /** The INPUT_FEATURES of real images (the baseline). */
  input: GaussianFit;
}

export const INPUT_FEATURE_NAMES = ['log variance', 'log total variation', 'log mean squared Laplacian'] as const;
/**
 * The model's view (how well it reconstructs, how typical the latent is) and the input's own
 * statistics: a blur or an upscale moves the reconstruction errors along their usual correlation,
 * which a Gaussian over the errors alone barely notices, but takes the input's fine detail away.
 */
export const ATYPICAL_FEATURES = ['log mse', 'log hf', 'latent Mahalanobis distance', ...INPUT_FEATURE_NAMES] as const;

// Keeps the logarithms finite for a perfect reconstruction.
const FLOOR = 1e-12;

/** GPU outputs a set of columns needs. */
export function endpointsOf(columns: readonly Column[]): Endpoint[] {
  const want = new Set<Endpoint>();
  for (const c of columns) {
    if (c === 'mse') want.add('error');
    if (c === 'hf') want.add('hf');
    if (c === 'ssim') want.add('ssim');
    if (c === 'atypical') ['error', 'hf', 'latent'].forEach((e) => want.add(e as Endpoint));
  }
  return [...want];
}

/** The ATYPICAL_FEATURES of sample `s`, given its statistics, its latent's distance and the input statistics ([n, INPUT_FEATURES]). */
export function atypicalFeatures(r: { error: Float32Array; hf: Float32Array }, s: number, latentDistance: number, input: Float64Array): number[] {
  return [Math.log(Math.max(FLOOR, r.error[s])), Math.log(Math.max(FLOOR, r.hf[s])), latentDistance, ...input.subarray(s * INPUT_FEATURES, (s + 1) * INPUT_FEATURES)];
}

/**
 * A function from a batch of normalised images to each column's per-sample values, from one forward
 * pass; `keep` adds GPU outputs of the same pass under their own names (e.g. 'reconstruction' for
 * anomaly maps). atypical and baseline need `fit`.
 */
export function scoreMeasure(model: Model, columns: readonly Column[], fit?: AtypicalFit, keep: readonly Endpoint[] = []): (images: Float32Array) => Promise<Record<string, Float32Array>> {
  if (!fit && columns.some((c) => c === 'atypical' || c === 'baseline')) throw new ScoreError('the atypical score and the baseline need a fit made on real images (rcae calibrate --score atypical --fit-real SRC)');
  const want = [...new Set([...endpointsOf(columns), ...keep])];
  const { inChannels, imageSize } = model.arch;
  return async (images) => {
    const n = images.length / model.imageSize;
    // The input statistics need only the images: the CPU computes them while the GPU runs the model.
    const running = want.length > 0 ? model.measure(images, want) : Promise.resolve({});
    const needsInput = columns.includes('atypical') || columns.includes('baseline');
    const input = needsInput ? inputStatistics(images, n, inChannels, imageSize) : new Float64Array(0);
    const r: RunResult = await running;
    const out: Record<string, Float32Array> = Object.fromEntries(keep.map((e) => [e, r[e]!]));
    for (const c of columns) {
      if (c === 'mse') out[c] = r.error!;
      else if (c === 'hf') out[c] = r.hf!;
      else if (c === 'ssim') out[c] = r.ssim!.map((v) => 1 - v);
      else if (c === 'atypical') {
        const stats = { error: r.error!, hf: r.hf! };
        const latent = mahalanobisRows(fit!.latent, r.latent!, n);
        out[c] = Float32Array.from({ length: n }, (_, s) => mahalanobis(fit!.features, atypicalFeatures(stats, s, latent[s], input)));
      } else out[c] = Float32Array.from({ length: n }, (_, s) => mahalanobis(fit!.input, input, s * INPUT_FEATURES));
    }
    return out;
  };
}
