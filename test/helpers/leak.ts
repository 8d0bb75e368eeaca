// Leak verdicts from memory sampled every N iterations of a long run. Two samples measure the
// allocator (arenas grow and shrink by MiBs, a GC moves the heap); a leak is a trend. So: the
// least-squares slope of each metric against the iteration count, over the second half of the run
// only (the first half holds the warm-up: JIT, caches, pools, the allocators settling), compared
// with a bound in bytes per iteration that the caller derives from the noise it measured.

/** One sample: the iteration it was taken after, and a value per metric (bytes, or a count). */
export interface Sample {
  iteration: number;
  values: Record<string, number>;
}

/** Least-squares slope of ys against xs, and the standard deviation of the residuals about that line. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; residualSd: number } {
  const n = xs.length;
  if (n < 3 || ys.length !== n) throw new Error(`a slope needs at least 3 paired samples, got ${n} and ${ys.length}`);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  if (sxx === 0) throw new Error('every sample was taken at the same iteration');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const residuals = ys.map((y, i) => y - (intercept + slope * xs[i]));
  const residualSd = Math.sqrt(residuals.reduce((a, r) => a + r * r, 0) / (n - 2));
  return { slope, intercept, residualSd };
}

/** The samples of the second half of the run: those taken at or after half the last iteration. */
export function secondHalf(samples: readonly Sample[]): Sample[] {
  const last = samples.at(-1)?.iteration ?? 0;
  return samples.filter((s) => s.iteration >= last / 2);
}

export interface MetricVerdict {
  metric: string;
  /** Per iteration, over the second half. */
  slope: number;
  bound: number;
  residualSd: number;
  ok: boolean;
}

/**
 * Per metric with a bound: its second-half slope and whether it is within ±bound per iteration.
 * `ok` is true when every metric is.
 */
export function leakVerdict(samples: readonly Sample[], bounds: Readonly<Record<string, number>>): { ok: boolean; metrics: MetricVerdict[] } {
  const half = secondHalf(samples);
  const xs = half.map((s) => s.iteration);
  const metrics = Object.entries(bounds).map(([metric, bound]) => {
    const { slope, residualSd } = leastSquares(xs, half.map((s) => s.values[metric]));
    return { metric, slope, bound, residualSd, ok: Math.abs(slope) <= bound };
  });
  return { ok: metrics.every((m) => m.ok), metrics };
}

/** One line per metric, for the test's log and its failure message. */
export function describeVerdict(verdict: { metrics: readonly MetricVerdict[] }, unit = 'B/iteration'): string {
  return verdict.metrics.map((m) => `${m.metric} ${m.slope.toFixed(1)} ${unit} (bound ±${m.bound}, residual sd ${m.residualSd.toFixed(0)})${m.ok ? '' : ' OVER'}`).join('; ');
}
