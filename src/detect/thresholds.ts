// Detection thresholds: calibrating them from real (and fake) reconstruction errors, and checking
// and choosing them in the published model's file layout,
// `reconstruction_thresholds.thresholds.<level>.value`, which this project extends with measured
// statistics, definitions and provenance. Files are untrusted input: the reader bounds the size,
// validates what it uses and keeps every other field untouched so a round trip loses nothing.
// Files are read and written in thresholds-file.ts (Node).

import { platform } from '../platform.js';
import { loadGaussian, storeGaussian } from './gaussian.js';
import { bestSeparation, fractionAbove, percentileOfSorted, summarize, type Errors, type Summary } from './metrics.js';
import { ATYPICAL_FEATURES, type AtypicalFit, FORMER_SCORE_NAMES, INPUT_FEATURE_NAMES, SCORE_DESCRIPTIONS, SCORES, type ScoreName } from './scores.js';
import { quotedMessage } from '../printable.js';
import { RcaeError } from '../errors.js';

export class ThresholdsError extends RcaeError {
  readonly kind = 'format';
}

export const LEVELS = ['strict', 'balanced', 'sensitive', 'optimal'] as const;
export type LevelName = (typeof LEVELS)[number];

/** Percentile of the real errors each percentile level sits at (its intended FPR is 100 - p percent). */
export const PERCENTILE_LEVELS = { strict: 99, balanced: 95, sensitive: 95.5 } as const;

export interface LevelCalibration {
  value: number;
  /** Fraction of real calibration errors above the value. */
  fpr: number;
  /** Fraction of fake calibration errors above the value; absent without fakes. */
  tpr?: number;
  percentile?: number;
  method: 'percentile' | 'gap-midpoint' | 'youden';
}

export interface Calibration {
  levels: Partial<Record<LevelName, LevelCalibration>>;
  real: Summary;
  fake?: Summary;
}

/**
 * strict, balanced and sensitive are the 99th, 95th and 95.5th percentiles of the real errors
 * (percentile as in metrics.percentile: linear interpolation, numpy's default); optimal, which needs
 * fakes, is metrics.bestSeparation. Each level carries the TPR and FPR measured on these same sets.
 */
export function calibrateThresholds(realErrors: Errors, fakeErrors?: Errors): Calibration {
  const real = summarize(realErrors);
  const fake = fakeErrors && fakeErrors.length > 0 ? summarize(fakeErrors) : undefined;
  const sortedReal = Float64Array.from(realErrors).sort();
  const levels: Calibration['levels'] = {};
  for (const [name, p] of Object.entries(PERCENTILE_LEVELS) as [LevelName, number][]) {
    const value = percentileOfSorted(sortedReal, p);
    levels[name] = { value, fpr: fractionAbove(realErrors, value), tpr: fake ? fractionAbove(fakeErrors!, value) : undefined, percentile: p, method: 'percentile' };
  }
  if (fake) {
    const best = bestSeparation(realErrors, fakeErrors!);
    levels.optimal = { value: best.threshold, fpr: best.fpr, tpr: best.tpr, method: best.method };
  }
  return { levels, real, fake };
}

// ---- the file layout --------------------------------------------------------------------------

/** One level as stored. `expected_tpr`/`expected_fpr` are the published names for measured TPR/FPR. */
export interface ThresholdLevel {
  value: number;
  description?: string;
  expected_tpr?: number | null;
  expected_fpr?: number | null;
  percentile?: number;
  method?: string;
  [extra: string]: unknown;
}

export interface ThresholdsSection {
  thresholds: Record<string, ThresholdLevel>;
  [extra: string]: unknown;
}

export interface ThresholdsDocument {
  reconstruction_thresholds: ThresholdsSection;
  [extra: string]: unknown;
}

export interface Provenance {
  model: { file: string; sha256: string; format?: string };
  /** Model input size in pixels (square). */
  imageSize: number;
  /** Where the real and fake errors came from, in words a reader can reproduce. */
  realSource: string;
  fakeSource?: string;
  /** ISO 8601 date and time of the calibration. */
  created: string;
  /** The program that wrote the file, with its version. */
  tool: string;
  /** The score the thresholds are for (default mse). */
  score?: ScoreName;
  /** For atypical: the fit, and the real images it was made from. */
  fit?: { fit: AtypicalFit; source: string };
}

const DESCRIPTIONS: Record<LevelName, string> = {
  strict: '99th percentile of real errors (about 1% of real images flagged)',
  balanced: '95th percentile of real errors (about 5% of real images flagged)',
  sensitive: '95.5th percentile of real errors (about 4.5% of real images flagged)',
  optimal: 'best separation of real and fake errors (gap midpoint, else maximum Youden J)',
};

export const DEFINITIONS = {
  error: 'per-sample mean squared error over C*H*W between the normalised input and its reconstruction',
  label: 'FAKE when error > value, else REAL',
  percentile: 'linear interpolation (numpy default): values sorted ascending a[0..n-1], h = (n-1)*p/100, result a[floor(h)] + (h-floor(h))*(a[floor(h)+1]-a[floor(h)])',
  expected_fpr: 'fraction of the real calibration errors > value',
  expected_tpr: 'fraction of the fake calibration errors > value (null when calibrated without fakes)',
  std: 'population standard deviation (ddof = 0)',
  optimal: 'when every fake error exceeds every real one: (max real + min fake) / 2; otherwise the threshold maximising TPR - FPR, ties to the lowest FPR, placed midway between the two distinct errors that bound it',
  ratio: 'mean fake error / mean real error',
} as const;

function statistics(s: Summary): Record<string, number> {
  const out: Record<string, number> = { count: s.count, mean: s.mean, std: s.std, median: s.median, min: s.min, max: s.max };
  for (const [p, v] of Object.entries(s.percentiles)) out[`percentile_${p}`] = v;
  return out;
}

/** The thresholds file for a calibration: the published layout plus statistics, definitions, provenance. */
export function thresholdsDocument(calibration: Calibration, provenance: Provenance): ThresholdsDocument {
  const thresholds: Record<string, ThresholdLevel> = {};
  for (const name of LEVELS) {
    const level = calibration.levels[name];
    if (!level) continue;
    thresholds[name] = {
      value: level.value,
      description: DESCRIPTIONS[name],
      expected_tpr: level.tpr ?? null,
      expected_fpr: level.fpr,
      ...(level.percentile !== undefined ? { percentile: level.percentile } : {}),
      method: level.method,
    };
  }
  const { real, fake } = calibration;
  const stats: Record<string, unknown> = { real_images: statistics(real) };
  if (fake) {
    stats.fake_images = statistics(fake);
    stats.separation = { mean_difference: fake.mean - real.mean, ratio: fake.mean / real.mean, median_ratio: fake.median / real.median };
  }
  const score = provenance.score ?? 'mse';
  const fit = provenance.fit && {
    real_source: provenance.fit.source,
    feature_names: ATYPICAL_FEATURES,
    features: storeGaussian(provenance.fit.fit.features),
    latent: storeGaussian(provenance.fit.fit.latent),
    input_feature_names: INPUT_FEATURE_NAMES,
    input: storeGaussian(provenance.fit.fit.input),
  };
  return {
    reconstruction_thresholds: {
      description: `${score} thresholds calibrated by rcae`,
      score,
      ...(fit ? { fit } : {}),
      dataset_real: provenance.realSource,
      dataset_fake: provenance.fakeSource ?? null,
      image_size: [provenance.imageSize, provenance.imageSize],
      normalization: 'mean=0.5, std=0.5 (range [-1, 1])',
      thresholds,
      statistics: stats,
      definitions: { ...DEFINITIONS, error: SCORE_DESCRIPTIONS[score] },
      provenance: {
        model_file: provenance.model.file,
        model_sha256: provenance.model.sha256,
        ...(provenance.model.format ? { model_format: provenance.model.format } : {}),
        preprocessing: `RGB, bilinear resize to ${provenance.imageSize}x${provenance.imageSize} (PIL-compatible), scale to [0,1], normalise (x-0.5)/0.5`,
        created: provenance.created,
        tool: provenance.tool,
      },
    },
  };
}

// ---- reading and writing ----------------------------------------------------------------------

/** Thresholds files are small; anything larger is not one. */
export const MAX_THRESHOLDS_BYTES = 16 * 1024 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkLevel(name: string, level: unknown, source: string): void {
  const where = `${source}: reconstruction_thresholds.thresholds.${name}`;
  if (!isObject(level)) throw new ThresholdsError(`${where} must be an object with a numeric "value"`);
  const { value } = level;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ThresholdsError(`${where}.value must be a finite number >= 0, got ${JSON.stringify(value)}`);
  }
  for (const rate of ['expected_tpr', 'expected_fpr']) {
    const r = level[rate];
    if (r !== undefined && r !== null && !(typeof r === 'number' && r >= 0 && r <= 1)) {
      throw new ThresholdsError(`${where}.${rate} must be a number in [0, 1] or null, got ${JSON.stringify(r)}`);
    }
  }
  const p = level.percentile;
  if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 100)) {
    throw new ThresholdsError(`${where}.percentile must be a number in [0, 100], got ${JSON.stringify(p)}`);
  }
}

/**
 * Validates parsed JSON as a thresholds document; returns the same object, extra fields intact. A
 * score named by its former name (`ssim`, now `dssim`: the same 1 - SSIM values) is read as its name now.
 */
export function parseThresholds(json: unknown, source: string): ThresholdsDocument {
  if (!isObject(json)) throw new ThresholdsError(`${source}: expected a JSON object with "reconstruction_thresholds"`);
  const section = json.reconstruction_thresholds;
  if (!isObject(section)) throw new ThresholdsError(`${source}: missing object "reconstruction_thresholds"`);
  const levels = section.thresholds;
  if (!isObject(levels) || Object.keys(levels).length === 0) {
    throw new ThresholdsError(`${source}: "reconstruction_thresholds.thresholds" must be an object with at least one level`);
  }
  for (const [name, level] of Object.entries(levels)) checkLevel(name, level, source);
  if (typeof section.score === 'string' && Object.hasOwn(FORMER_SCORE_NAMES, section.score)) section.score = FORMER_SCORE_NAMES[section.score];
  const { score } = section;
  if (score !== undefined && !(SCORES as readonly unknown[]).includes(score)) {
    throw new ThresholdsError(`${source}: reconstruction_thresholds.score must be one of ${SCORES.join(', ')}, got ${JSON.stringify(score)}`);
  }
  if (score === 'atypical' && !isObject(section.fit)) throw new ThresholdsError(`${source}: atypical thresholds need "reconstruction_thresholds.fit" (made by rcae calibrate --fit-real)`);
  return json as ThresholdsDocument;
}

/** The score a thresholds file is for: its `score` field, or mse (the published layout has none). */
export function scoreOfThresholds(doc: ThresholdsDocument): ScoreName {
  return (doc.reconstruction_thresholds.score as ScoreName | undefined) ?? 'mse';
}

/** The model SHA-256 a thresholds file was calibrated for, when it records one. */
export function modelSha256OfThresholds(doc: ThresholdsDocument): string | undefined {
  const provenance = doc.reconstruction_thresholds.provenance;
  return isObject(provenance) && typeof provenance.model_sha256 === 'string' ? provenance.model_sha256 : undefined;
}

/** The atypical fit stored in a thresholds file, checked against the model's latent size. */
export function fitOfThresholds(doc: ThresholdsDocument, source: string, latentDim: number): AtypicalFit {
  const fit = doc.reconstruction_thresholds.fit;
  if (!isObject(fit)) throw new ThresholdsError(`${source}: no "reconstruction_thresholds.fit" (make one with rcae calibrate --score atypical --fit-real SRC)`);
  const where = `${source}: reconstruction_thresholds.fit`;
  try {
    return {
      latent: loadGaussian(fit.latent, `${where}.latent`, latentDim),
      features: loadGaussian(fit.features, `${where}.features`, ATYPICAL_FEATURES.length),
      input: loadGaussian(fit.input, `${where}.input`, INPUT_FEATURE_NAMES.length),
    };
  } catch (err) {
    throw new ThresholdsError((err as Error).message);
  }
}

/** Parses a thresholds file's bytes; `source` names it in errors. */
export function parseThresholdsBytes(bytes: Uint8Array, source: string): ThresholdsDocument {
  if (bytes.length > MAX_THRESHOLDS_BYTES) throw new ThresholdsError(`${source}: ${bytes.length} bytes is too large for a thresholds file (limit ${MAX_THRESHOLDS_BYTES})`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ThresholdsError(`${source}: not valid JSON (${quotedMessage((err as Error).message)})`);
  }
  return parseThresholds(json, source);
}

/** The thresholds calibrated for the bundled default model, on any platform (a file in Node, fetched in a browser). */
export async function defaultThresholds(): Promise<ThresholdsDocument> {
  const where = platform().defaultModel().thresholds;
  return parseThresholdsBytes(await platform().readBytes(where, MAX_THRESHOLDS_BYTES), where);
}

/**
 * A `--level` argument: a level name, or a number used as the threshold itself. Anything that
 * parses as a number is one (level names never do).
 */
export function parseLevel(text: string): string | number {
  const trimmed = text.trim();
  if (trimmed === '') throw new ThresholdsError('the level is empty: give a level name or a number');
  const n = Number(trimmed);
  if (Number.isNaN(n)) return trimmed;
  if (!Number.isFinite(n) || n < 0) throw new ThresholdsError(`a numeric threshold must be a finite number >= 0, got '${text}'`);
  return n;
}

export interface PickedThreshold {
  /** The level name, or the number as given. */
  level: string;
  value: number;
}

export function pickThreshold(doc: ThresholdsDocument | undefined, level: string | number, source = 'thresholds'): PickedThreshold {
  if (typeof level === 'number') return { level: String(level), value: level };
  if (!doc) throw new ThresholdsError(`level '${level}' needs a thresholds file`);
  const levels = doc.reconstruction_thresholds.thresholds;
  const found = Object.hasOwn(levels, level) ? levels[level] : undefined;
  if (!found) throw new ThresholdsError(`${source}: no threshold level '${level}' (it has ${Object.keys(levels).join(', ')})`);
  return { level, value: found.value };
}
