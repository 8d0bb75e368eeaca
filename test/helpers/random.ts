// Seeded randomness for tests: every run draws fresh cases, and a failure names the seed so that
// `RCAE_TEST_SEED=<seed> npm test` replays it exactly.

/** A small seeded generator (mulberry32); the seed is printed by failing tests to replay them. */
export function random(seed: number): { seed: number; next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}

export const SEED = Number(process.env.RCAE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
