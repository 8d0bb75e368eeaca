// Leak tests that measure a leak. Memory is sampled (after a full GC) every so many iterations of
// the work under test, in a process of its own, and each series gets a verdict on its least-squares
// slope over the second half of the run, in bytes per iteration: by then the allocators have
// settled, and a slope over dozens of samples averages out their moves, where a bound on two samples
// measured the allocator and not a leak (issue 19). Series whose value must not move at all (live
// GPU buffers) are checked exactly. Generic: samples -> slopes over the second half -> verdicts.

import { execFileSync } from 'node:child_process';

export interface MemorySample {
  /** Iterations done when the sample was taken. */
  iteration: number;
  /** Bytes (or counts) by series name: rss, heapUsed, external, and whatever the caller adds. */
  values: Record<string, number>;
}

/**
 * The process's memory after a full GC (needs node --expose-gc), with the caller's own series. Native
 * buffers (sharp's, N-API's) are freed by finalizers that run after the GC that found them dead, so
 * the GC runs again once those have had their turn: else `external` swings by tens of MiB.
 */
export async function memorySample(iteration: number, extra: Record<string, number> = {}): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('memorySample: run with node --expose-gc');
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const m = process.memoryUsage();
  return { iteration, values: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, ...extra } };
}

/**
 * Runs `step` (which does `every` iterations from the given one) until `total` iterations are done,
 * sampling before the first step and after each.
 */
export async function sampleEvery(total: number, every: number, step: (from: number) => Promise<void>, extra: () => Record<string, number> = () => ({})): Promise<MemorySample[]> {
  const samples = [await memorySample(0, extra())];
  for (let done = 0; done < total; done += every) {
    await step(done);
    samples.push(await memorySample(done + every, extra()));
  }
  return samples;
}

/** The least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) throw new Error(`slope: ${n} points`);
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxy / sxx;
}

/** The samples from the middle of the run on (the second half of the iterations). */
export function secondHalf(samples: readonly MemorySample[]): MemorySample[] {
  const last = samples[samples.length - 1].iteration;
  return samples.filter((s) => s.iteration >= last / 2);
}

/** A series' slope over the second half of the run, in units per iteration. */
export function secondHalfSlope(samples: readonly MemorySample[], series: string): number {
  return slope(secondHalf(samples).map((s) => [s.iteration, s.values[series]] as const));
}

export interface Verdict {
  series: string;
  /** Units per iteration over the second half (for `exact` series: the spread, max - min). */
  measured: number;
  bound: number;
  ok: boolean;
}

/**
 * One verdict per named series: `slopes` bound each series' second-half slope (per iteration,
 * from above: memory given back is no leak), `exact` names series that must hold one value in every
 * sample of the second half.
 */
export function leakVerdicts(samples: readonly MemorySample[], slopes: Record<string, number>, exact: readonly string[] = []): Verdict[] {
  const verdicts = Object.entries(slopes).map(([series, bound]) => {
    const measured = secondHalfSlope(samples, series);
    return { series, measured, bound, ok: measured <= bound };
  });
  for (const series of exact) {
    const values = secondHalf(samples).map((s) => s.values[series]);
    const spread = Math.max(...values) - Math.min(...values);
    verdicts.push({ series, measured: spread, bound: 0, ok: spread === 0 });
  }
  return verdicts;
}

/** One line per verdict, for the test's log and its failure message. */
export function describeVerdicts(verdicts: readonly Verdict[]): string {
  return verdicts.map((v) => `${v.series} ${v.measured.toFixed(1)} (bound ${v.bound})${v.ok ? '' : ' OVER'}`).join(', ');
}

/**
 * Runs a probe script (compiled test JS that prints its samples as the last line of JSON) in a fresh
 * `node --expose-gc`: the figures are then the probe's own, not those of a process that has run the
 * rest of the suite.
 */
export function probeSamples(script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): MemorySample[] {
  const out = execFileSync(process.execPath, ['--expose-gc', script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
  return (JSON.parse(out.trim().split('\n').pop()!) as { samples: MemorySample[] }).samples;
}

/**
 * Runs the probe, logs its verdicts (`unit`: what one iteration is, for the log line) and returns
 * them with the number of samples, for the test to assert on.
 */
export function probeVerdicts(script: string, slopes: Record<string, number>, exact: readonly string[], unit: string): { samples: number; verdicts: Verdict[] } {
  const started = performance.now();
  const samples = probeSamples(script);
  const verdicts = leakVerdicts(samples, slopes, exact);
  console.log(`  ${samples[samples.length - 1].iteration} ${unit}s in ${((performance.now() - started) / 1000).toFixed(0)} s; bytes per ${unit}: ${describeVerdicts(verdicts)}`);
  return { samples: samples.length, verdicts };
}
