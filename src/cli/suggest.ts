// "Did you mean": the known word closest to a mistyped one, when it is close enough to be the
// likely intent: at most about a third of its characters wrong (a swap of two neighbours counts
// once), or the start of exactly one known word.

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function distance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = previous;
    previous = row;
  }
  return previous[b.length];
}

export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.round(word.length / 3));
  for (const candidate of known) {
    const d = distance(word, candidate);
    if (d <= bestDistance && !(d === bestDistance && best)) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best) return best;
  const extensions = known.filter((k) => word.length >= 3 && k.startsWith(word));
  return extensions.length === 1 ? extensions[0] : undefined;
}

/** `; did you mean X?` or nothing. */
export function didYouMean(word: string, known: readonly string[]): string {
  const hit = closest(word, known);
  return hit ? `; did you mean ${hit}?` : '';
}
