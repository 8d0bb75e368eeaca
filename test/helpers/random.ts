// Seeded randomness for tests: every run draws fresh cases, and a failure names the seed so that
// `RCAE_TEST_SEED=<seed> npm test` replays it exactly.

import { mulberry32 } from '../../src/graph/random-params.js';

/** A small seeded generator (mulberry32); the seed is printed by failing tests to replay them. */
export function random(seed: number): { seed: number; next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  const next = mulberry32(seed);
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}

export const SEED = Number(process.env.RCAE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
