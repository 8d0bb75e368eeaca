// Detection metrics over two sets of reconstruction errors: real (the negative class) and fake (the
// positive class, expected to reconstruct worse). Every operating point follows the detector's own
// rule, FAKE when error > threshold, so thresholds reported here can be used as they are.

export type Errors = ArrayLike<number>;

function sortedCopy(values: Errors): Float64Array {
  return Float64Array.from(values).sort();
}

function requireFinite(values: Errors, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${what}: value ${i} is ${values[i]}, expected a finite number`);
  }
}

function requireBoth(real: Errors, fake: Errors): void {
  if (real.length === 0 || fake.length === 0) throw new RangeError(`need at least one real and one fake error (got ${real.length} real, ${fake.length} fake)`);
  requireFinite(real, 'real errors');
  requireFinite(fake, 'fake errors');
}

/**
 * The p-th percentile (0 <= p <= 100) with linear interpolation between closest ranks, as numpy's
 * default (`method='linear'`): with the n values sorted ascending as a[0..n-1], h = (n - 1) * p / 100
 * and the result is a[floor(h)] + (h - floor(h)) * (a[floor(h) + 1] - a[floor(h)]).
 */
export function percentile(values: Errors, p: number): number {
  return percentileOfSorted(sortedCopy(values), p);
}

export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty set');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The percentiles every summary reports. */
export const SUMMARY_PERCENTILES = [1, 5, 25, 50, 75, 95, 99] as const;

export interface Summary {
  count: number;
  mean: number;
  /** Population standard deviation (numpy's default, ddof = 0). */
  std: number;
  median: number;
  min: number;
  max: number;
  /** Keyed by the percentile, e.g. percentiles[95]. */
  percentiles: Record<(typeof SUMMARY_PERCENTILES)[number], number>;
}

export function summarize(values: Errors): Summary {
  if (values.length === 0) throw new RangeError('summary of an empty set');
  requireFinite(values, 'errors');
  const sorted = sortedCopy(values);
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / sorted.length;
  let squares = 0;
  for (const v of sorted) squares += (v - mean) * (v - mean);
  const percentiles = Object.fromEntries(SUMMARY_PERCENTILES.map((p) => [p, percentileOfSorted(sorted, p)])) as Summary['percentiles'];
  return {
    count: sorted.length,
    mean,
    std: Math.sqrt(squares / sorted.length),
    median: percentileOfSorted(sorted, 50),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    percentiles,
  };
}

/** Fraction of `values` strictly above `threshold`: the FPR on real errors, the TPR on fake errors. */
export function fractionAbove(values: Errors, threshold: number): number {
  let above = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > threshold) above++;
  return values.length === 0 ? NaN : above / values.length;
}

export interface RocCurve {
  /**
   * Point k flags errors > thresholds[k]. Thresholds run from the largest error (nothing flagged,
   * the point (0, 0)) down through every distinct error to -Infinity (everything flagged, (1, 1)).
   */
  thresholds: Float64Array;
  fpr: Float64Array;
  tpr: Float64Array;
}

/** Distinct error values, descending, with how many real and fake errors equal each. */
function groupedDescending(real: Errors, fake: Errors): { values: number[]; realAt: number[]; fakeAt: number[] } {
  const all = new Float64Array(real.length + fake.length);
  const isFake = new Uint8Array(all.length);
  for (let i = 0; i < real.length; i++) all[i] = real[i];
  for (let i = 0; i < fake.length; i++) {
    all[real.length + i] = fake[i];
    isFake[real.length + i] = 1;
  }
  const order = Array.from(all.keys()).sort((a, b) => all[b] - all[a]);
  const values: number[] = [];
  const realAt: number[] = [];
  const fakeAt: number[] = [];
  for (const i of order) {
    const last = values.length - 1;
    if (last < 0 || all[i] !== values[last]) {
      values.push(all[i]);
      realAt.push(0);
      fakeAt.push(0);
    }
    if (isFake[i]) fakeAt[fakeAt.length - 1]++;
    else realAt[realAt.length - 1]++;
  }
  return { values, realAt, fakeAt };
}

export function rocCurve(real: Errors, fake: Errors): RocCurve {
  requireBoth(real, fake);
  const { values, realAt, fakeAt } = groupedDescending(real, fake);
  const n = values.length + 1;
  const thresholds = new Float64Array(n);
  const fpr = new Float64Array(n);
  const tpr = new Float64Array(n);
  // Lowering the threshold below values[k] newly flags the errors equal to values[k].
  let fp = 0;
  let tp = 0;
  for (let k = 0; k < n; k++) {
    thresholds[k] = k < values.length ? values[k] : -Infinity;
    if (k > 0) {
      fp += realAt[k - 1];
      tp += fakeAt[k - 1];
    }
    fpr[k] = fp / real.length;
    tpr[k] = tp / fake.length;
  }
  return { thresholds, fpr, tpr };
}

/**
 * Area under the ROC curve from rank statistics (Mann-Whitney U): the probability that a random fake
 * error exceeds a random real one, ties counting one half.
 */
export function auroc(real: Errors, fake: Errors): number {
  requireBoth(real, fake);
  const { values, realAt, fakeAt } = groupedDescending(real, fake);
  // Walk from the smallest error up, counting reals already passed.
  let realBelow = 0;
  let wins = 0;
  for (let k = values.length - 1; k >= 0; k--) {
    wins += fakeAt[k] * (realBelow + realAt[k] / 2);
    realBelow += realAt[k];
  }
  return wins / (real.length * fake.length);
}

/**
 * Average precision as scikit-learn defines it: sum over thresholds (every distinct error, flagging
 * errors >= it) of (R_k - R_{k-1}) * P_k, precision weighted by the recall gained, with no
 * interpolation.
 */
export function averagePrecision(real: Errors, fake: Errors): number {
  requireBoth(real, fake);
  const { values, realAt, fakeAt } = groupedDescending(real, fake);
  let tp = 0;
  let fp = 0;
  let ap = 0;
  for (let k = 0; k < values.length; k++) {
    tp += fakeAt[k];
    fp += realAt[k];
    ap += (fakeAt[k] / fake.length) * (tp / (tp + fp));
  }
  return ap;
}

export interface OperatingPoint {
  threshold: number;
  tpr: number;
  fpr: number;
}

/** The highest TPR reachable with FPR <= maxFpr, at the largest threshold that reaches it. */
export function tprAtFpr(real: Errors, fake: Errors, maxFpr: number): OperatingPoint {
  const roc = rocCurve(real, fake);
  let best = 0;
  for (let k = 0; k < roc.fpr.length && roc.fpr[k] <= maxFpr; k++) if (roc.tpr[k] > roc.tpr[best]) best = k;
  return { threshold: roc.thresholds[best], tpr: roc.tpr[best], fpr: roc.fpr[best] };
}

/**
 * Equal error rate: where FPR equals the miss rate 1 - TPR, interpolated linearly along the ROC
 * curve between the two operating points that bracket the crossing. `threshold` is the operating
 * point at or just past the crossing (the first whose FPR >= miss rate).
 */
export function eer(real: Errors, fake: Errors): { rate: number; threshold: number } {
  const roc = rocCurve(real, fake);
  // gap = FPR - (1 - TPR) rises from -1 at (0, 0) to +1 at (1, 1).
  const gap = (k: number) => roc.fpr[k] + roc.tpr[k] - 1;
  let k = 0;
  while (gap(k) < 0) k++;
  if (gap(k) === 0) return { rate: roc.fpr[k], threshold: roc.thresholds[k] };
  const t = -gap(k - 1) / (gap(k) - gap(k - 1));
  return { rate: roc.fpr[k - 1] + t * (roc.fpr[k] - roc.fpr[k - 1]), threshold: roc.thresholds[k] };
}

export interface Separation {
  threshold: number;
  tpr: number;
  fpr: number;
  method: 'gap-midpoint' | 'youden';
}

/**
 * The threshold that best separates the sets. When every fake error exceeds every real one it is
 * the midpoint of the gap, (max real + min fake) / 2. Otherwise it maximises Youden's J = TPR - FPR;
 * among equal J the one with the fewest false positives wins, and the threshold sits midway between
 * the two distinct errors that bound that labelling (at the largest error when nothing is flagged).
 */
export function bestSeparation(real: Errors, fake: Errors): Separation {
  requireBoth(real, fake);
  const { values, realAt, fakeAt } = groupedDescending(real, fake);
  // J scaled by both set sizes is an integer, so equal J compares equal (fractions would round apart).
  // Point k flags the errors equal to values[0..k-1]; flagging everything (J = 0) never wins.
  let best = { k: 0, score: 0, tp: 0, fp: 0 };
  let tp = 0;
  let fp = 0;
  for (let k = 1; k < values.length; k++) {
    tp += fakeAt[k - 1];
    fp += realAt[k - 1];
    const score = tp * real.length - fp * fake.length;
    if (score > best.score) best = { k, score, tp, fp };
  }
  let threshold = values[best.k];
  if (best.k > 0) {
    // Any threshold in [values[k], values[k - 1]) gives this labelling.
    const mid = (values[best.k] + values[best.k - 1]) / 2;
    if (mid < values[best.k - 1]) threshold = mid;
  }
  const separated = best.tp === fake.length && best.fp === 0;
  return { threshold, tpr: best.tp / fake.length, fpr: best.fp / real.length, method: separated ? 'gap-midpoint' : 'youden' };
}
