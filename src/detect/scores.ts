// The detection scores a model can give a sample, all higher-is-more-fake and all computed from one
// forward pass: the per-sample statistics come from the GPU (kernels/mse, kernels/stats) in the same
// command buffer; only `atypical` combines them, with the latent, on the CPU under a fitted Gaussian.
// SCORE_TABLE is the one list of them: --score, thresholds files, evaluate's report and the service
// all take names, descriptions and what to compute from it.

import type { Endpoint, RunResult } from '../graph/executor.js';
import type { Model } from '../model.js';
import { type GaussianFit, mahalanobis, mahalanobisRows } from './gaussian.js';
import { INPUT_FEATURES, inputStatistics } from './input-statistics.js';
import { RcaeError } from '../errors.js';

/**
 * One entry per thing a sample can be measured by: a detection score, or the model-free baseline
 * that rcae evaluate compares them with. A new score is one entry here (and, when it needs a new GPU
 * statistic, that statistic's kernel in kernels/stats and its node in graph/plan.ts STATISTICS).
 * Names are the statistics' names where a score is one: `ssim` is always the mean SSIM, a similarity
 * (the kernel, the reference, `measure(['ssim'])`); the score made from it is `dssim`, 1 - SSIM.
 */
interface ScoreSpec {
  /** What it measures: --score help and thresholds files' definitions. */
  measures: string;
  /** 'higher': more of what it measures is more fake; 'two-sided': a distance from a Gaussian fitted on real images, so unusually low values count too. */
  direction: 'higher' | 'two-sided';
  /** The GPU outputs (graph/executor.ts Endpoint) it is computed from. */
  reads: readonly Endpoint[];
  /** Its per-sample values from one pass's outputs; `input` the input statistics ([n, INPUT_FEATURES]) when `needsInput`. */
  value(r: RunResult, n: number, fit: AtypicalFit | undefined, input: Float64Array): Float32Array;
  /** Whether `value` needs the input statistics (computed on the CPU while the GPU runs). */
  needsInput?: boolean;
}

const SCORE_TABLE = {
  mse: {
    measures: 'mean squared error over C*H*W between the normalised input and its reconstruction (the published score)',
    direction: 'higher',
    reads: ['mse'],
    value: (r) => r.mse!,
  },
  hf: {
    measures: 'high-frequency error: mean over the interior pixels of the squared 3x3 Laplacian of the channel mean of (input - reconstruction)',
    direction: 'higher',
    reads: ['hf'],
    value: (r) => r.hf!,
  },
  dssim: {
    measures: 'structural dissimilarity 1 - SSIM(input, reconstruction): 11x11 Gaussian window (sigma 1.5), data range 2, valid windows, mean over channels',
    direction: 'higher',
    reads: ['ssim'],
    value: (r) => r.ssim!.map((v) => 1 - v),
  },
  atypical: {
    measures: 'two-sided: Mahalanobis distance of (log mse, log hf, latent Mahalanobis distance, and the baseline\'s three input statistics) under a Gaussian fitted on real images',
    direction: 'two-sided',
    // SSIM is left out: the dearest statistic, and it added nothing (bench/NOTES.md).
    reads: ['mse', 'hf', 'latent'],
    needsInput: true,
    value: (r, n, fit, input) => {
      const latent = mahalanobisRows(fit!.latent, r.latent!, n);
      return Float32Array.from({ length: n }, (_, s) => mahalanobis(fit!.features, atypicalFeatures({ mse: r.mse!, hf: r.hf! }, s, latent[s], input)));
    },
  },
  baseline: {
    measures: 'model-free two-sided baseline: Mahalanobis distance of (log variance, log total variation, log Laplacian energy) of the input under a Gaussian fitted on real images',
    direction: 'two-sided',
    reads: [],
    needsInput: true,
    value: (_r, n, fit, input) => Float32Array.from({ length: n }, (_, s) => mahalanobis(fit!.input, input, s * INPUT_FEATURES)),
  },
} satisfies Record<string, ScoreSpec>;

/** What can be measured per sample: a score, or the model-free baseline (input statistics only). */
export type Column = keyof typeof SCORE_TABLE;
/** The detection scores: every column but the baseline, which is a comparison in rcae evaluate, not a detector. */
export type ScoreName = Exclude<Column, 'baseline'>;
/** The scores --score chooses from, in the table's order. */
export const SCORES: readonly ScoreName[] = (Object.keys(SCORE_TABLE) as Column[]).filter((c): c is ScoreName => c !== 'baseline');
const spec = (c: Column): ScoreSpec => SCORE_TABLE[c];

/** Score names that thresholds files written before the rename hold, and what they are now. */
export const FORMER_SCORE_NAMES: Readonly<Record<string, ScoreName>> = { ssim: 'dssim' };

/** The field (CLI column, service response, queue result) that carries the chosen score's per-sample value, whichever score it is. */
export const SCORE_FIELD = 'error';

export const SCORE_DESCRIPTIONS: Record<Column, string> = Object.fromEntries(Object.entries(SCORE_TABLE).map(([c, entry]) => [c, entry.measures])) as Record<Column, string>;

export class ScoreError extends RcaeError {
  readonly kind = 'usage';
}

export function parseScore(text: string): ScoreName {
  if ((SCORES as readonly string[]).includes(text)) return text as ScoreName;
  const now = FORMER_SCORE_NAMES[text];
  throw new ScoreError(`unknown score '${text}' (one of ${SCORES.join(', ')})${now ? `; the score once named ${text} is ${now} now` : ''}`);
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
  return [...new Set(columns.flatMap((c) => spec(c).reads))];
}

/** The ATYPICAL_FEATURES of sample `s`, given its statistics, its latent's distance and the input statistics ([n, INPUT_FEATURES]). */
export function atypicalFeatures(r: { mse: Float32Array; hf: Float32Array }, s: number, latentDistance: number, input: Float64Array): number[] {
  return [Math.log(Math.max(FLOOR, r.mse[s])), Math.log(Math.max(FLOOR, r.hf[s])), latentDistance, ...input.subarray(s * INPUT_FEATURES, (s + 1) * INPUT_FEATURES)];
}

/**
 * A function from a batch of normalised images to each column's per-sample values, from one forward
 * pass; `keep` adds GPU outputs of the same pass under their own names (e.g. 'reconstruction' for
 * anomaly maps). atypical and baseline need `fit`.
 */
export function scoreMeasure(model: Model, columns: readonly Column[], fit?: AtypicalFit, keep: readonly Endpoint[] = []): (images: Float32Array) => Promise<Record<string, Float32Array>> {
  if (!fit && columns.some((c) => spec(c).direction === 'two-sided')) throw new ScoreError('the atypical score and the baseline need a fit made on real images (rcae calibrate --score atypical --fit-real SRC)');
  const want = [...new Set([...endpointsOf(columns), ...keep])];
  const { inChannels, imageSize } = model.arch;
  return async (images) => {
    const n = images.length / model.imageSize;
    // The input statistics need only the images: the CPU computes them while the GPU runs the model.
    const running = want.length > 0 ? model.measure(images, want) : Promise.resolve({});
    const needsInput = columns.some((c) => spec(c).needsInput);
    const input = needsInput ? inputStatistics(images, n, inChannels, imageSize) : new Float64Array(0);
    const r: RunResult = await running;
    const out: Record<string, Float32Array> = Object.fromEntries(keep.map((e) => [e, r[e]!]));
    for (const c of columns) out[c] = spec(c).value(r, n, fit, input);
    return out;
  };
}
