// One evaluation of the detector on a real and a fake error set: ranking quality (AUROC, average
// precision, EER), detection rates at fixed false-positive budgets, the error distributions, and
// optionally how the levels of a thresholds file perform on these sets.

import { auroc, averagePrecision, eer, fractionAbove, summarize, tprAtFpr, type Errors, type OperatingPoint, type Summary } from './metrics.js';
import type { ThresholdsDocument } from './thresholds.js';

export interface LevelResult {
  value: number;
  tpr: number;
  fpr: number;
}

export interface Evaluation {
  real: Summary;
  fake: Summary;
  /** mean fake error / mean real error, and the same for medians. */
  meanRatio: number;
  medianRatio: number;
  auroc: number;
  averagePrecision: number;
  eer: { rate: number; threshold: number };
  tprAt1PercentFpr: OperatingPoint;
  tprAt5PercentFpr: OperatingPoint;
  /** Each level of the thresholds file, measured on these sets. */
  levels?: Record<string, LevelResult>;
}

export function evaluateDetector(real: Errors, fake: Errors, thresholds?: ThresholdsDocument): Evaluation {
  const r = summarize(real);
  const f = summarize(fake);
  const evaluation: Evaluation = {
    real: r,
    fake: f,
    meanRatio: f.mean / r.mean,
    medianRatio: f.median / r.median,
    auroc: auroc(real, fake),
    averagePrecision: averagePrecision(real, fake),
    eer: eer(real, fake),
    tprAt1PercentFpr: tprAtFpr(real, fake, 0.01),
    tprAt5PercentFpr: tprAtFpr(real, fake, 0.05),
  };
  if (thresholds) {
    evaluation.levels = Object.fromEntries(Object.entries(thresholds.reconstruction_thresholds.thresholds).map(([name, level]) =>
      [name, { value: level.value, tpr: fractionAbove(fake, level.value), fpr: fractionAbove(real, level.value) }]));
  }
  return evaluation;
}
