import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { auroc, averagePrecision, bestSeparation, eer, fractionAbove, percentile, rocCurve, summarize, tprAtFpr } from '../../src/detect/metrics.js';
import { randomStream } from '../../src/detect/synthetic.js';

const close = (actual: number, expected: number, what: string, tol = 1e-12) => assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
const closeAll = (actual: ArrayLike<number>, expected: number[], what: string) => {
  assert.is(actual.length, expected.length, `${what} length`);
  expected.forEach((e, i) => (e === -Infinity ? assert.is(actual[i], -Infinity, what) : close(actual[i], e, `${what}[${i}]`)));
};

// Case A: real [0.1, 0.2, 0.3], fake [0.25, 0.4]. Distinct errors descending: 0.4 F, 0.3 R, 0.25 F,
// 0.2 R, 0.1 R. Flagging errors > t for t = 0.4, 0.3, 0.25, 0.2, 0.1, -inf gives
// FPR 0, 0, 1/3, 1/3, 2/3, 1 and TPR 0, 1/2, 1/2, 1, 1, 1.
const realA = [0.1, 0.2, 0.3];
const fakeA = [0.25, 0.4];

test('ROC curve of case A, by hand', () => {
  const roc = rocCurve(realA, fakeA);
  closeAll(roc.thresholds, [0.4, 0.3, 0.25, 0.2, 0.1, -Infinity], 'thresholds');
  closeAll(roc.fpr, [0, 0, 1 / 3, 1 / 3, 2 / 3, 1], 'fpr');
  closeAll(roc.tpr, [0, 0.5, 0.5, 1, 1, 1], 'tpr');
});

test('AUROC, AP, TPR at FPR, EER and separation of case A, by hand', () => {
  // Pairs with fake > real: 0.25 beats 0.1 and 0.2; 0.4 beats all three: 5 of 6.
  close(auroc(realA, fakeA), 5 / 6, 'auroc');
  // Flagging >= 0.4: P 1, recall +1/2; >= 0.3: recall +0; >= 0.25: P 2/3, recall +1/2. AP = 1/2 + 1/3.
  close(averagePrecision(realA, fakeA), 5 / 6, 'ap');
  assert.equal(tprAtFpr(realA, fakeA, 0), { threshold: 0.3, tpr: 0.5, fpr: 0 });
  assert.equal(tprAtFpr(realA, fakeA, 0.34), { threshold: 0.2, tpr: 1, fpr: 1 / 3 });
  // FPR - miss rate: -1, -1/2, -1/6, +1/3 at the first four points. Between the third and fourth FPR
  // stays 1/3 while the miss rate falls from 1/2 to 0: they meet at 1/3.
  const e = eer(realA, fakeA);
  close(e.rate, 1 / 3, 'eer');
  assert.is(e.threshold, 0.2);
  // Youden J per point: 0, 1/2, 1/6, 2/3, 1/3, 0. Best is TPR 1 / FPR 1/3, between errors 0.2 and 0.25.
  const best = bestSeparation(realA, fakeA);
  assert.is(best.method, 'youden');
  close(best.threshold, 0.225, 'threshold');
  close(best.tpr, 1, 'tpr');
  close(best.fpr, 1 / 3, 'fpr');
});

test('ties count one half in AUROC and share a threshold in AP', () => {
  // real [1, 2, 2], fake [2, 3]: fake 2 beats 1 and ties both 2s (1 + 0.5 + 0.5); fake 3 beats all three.
  close(auroc([1, 2, 2], [2, 3]), 5 / 6, 'auroc');
  // >= 3: P 1, recall +1/2; >= 2: TP 2, FP 2, P 1/2, recall +1/2; >= 1: recall +0. AP = 1/2 + 1/4.
  close(averagePrecision([1, 2, 2], [2, 3]), 0.75, 'ap');
  // Everything equal: chance AUROC; AP is the fake share; EER halfway along the only segment.
  close(auroc([1, 1], [1]), 0.5, 'auroc all tied');
  close(averagePrecision([1, 1], [1]), 1 / 3, 'ap all tied');
  close(eer([1, 1], [1]).rate, 0.5, 'eer all tied');
});

test('equal Youden J: the separation with fewer false positives wins', () => {
  // real [0.1, 0.3], fake [0.2, 0.4]: J is 1/2 flagging above 0.3 (TPR 1/2, FPR 0) and above 0.1
  // (TPR 1, FPR 1/2). The first wins, midway between 0.3 and 0.4.
  const best = bestSeparation([0.1, 0.3], [0.2, 0.4]);
  close(best.threshold, 0.35, 'threshold');
  assert.equal([best.tpr, best.fpr, best.method], [0.5, 0, 'youden']);
});

test('perfectly separated sets', () => {
  const real = [0.1, 0.2];
  const fake = [0.5, 0.7];
  assert.is(auroc(real, fake), 1);
  assert.is(averagePrecision(real, fake), 1);
  assert.equal(eer(real, fake), { rate: 0, threshold: 0.2 });
  assert.equal(tprAtFpr(real, fake, 0), { threshold: 0.2, tpr: 1, fpr: 0 });
  const best = bestSeparation(real, fake);
  assert.equal(best, { threshold: 0.35, tpr: 1, fpr: 0, method: 'gap-midpoint' });
  assert.is(fractionAbove(real, best.threshold), 0);
  assert.is(fractionAbove(fake, best.threshold), 1);
});

test('reversed sets (fakes reconstruct better)', () => {
  const real = [0.5, 0.7];
  const fake = [0.1, 0.2];
  assert.is(auroc(real, fake), 0);
  // >= 0.7, >= 0.5: no fakes; >= 0.2: P 1/3, recall +1/2; >= 0.1: P 1/2, recall +1/2.
  close(averagePrecision(real, fake), 1 / 6 + 1 / 4, 'ap');
  // FPR reaches 1 while TPR is still 0: FPR - miss rate hits 0 exactly there.
  assert.equal(eer(real, fake), { rate: 1, threshold: 0.2 });
  // No threshold has positive J: flag nothing.
  assert.equal(bestSeparation(real, fake), { threshold: 0.7, tpr: 0, fpr: 0, method: 'youden' });
});

test('percentile interpolates linearly between ranks (numpy default)', () => {
  const v = [0.3, 0.1, 0.2];
  close(percentile(v, 0), 0.1, 'p0');
  close(percentile(v, 50), 0.2, 'p50');
  close(percentile(v, 100), 0.3, 'p100');
  // h = 2 * 0.95 = 1.9: 0.2 + 0.9 * (0.3 - 0.2).
  close(percentile(v, 95), 0.29, 'p95');
  // [1, 2, 3, 4]: h = 3 * 0.25 = 0.75 -> 1.75; h = 3 * 0.99 = 2.97 -> 3.97.
  close(percentile([4, 3, 2, 1], 25), 1.75, 'p25');
  close(percentile([4, 3, 2, 1], 99), 3.97, 'p99', 1e-12);
  close(percentile([7], 42), 7, 'single value');
  assert.throws(() => percentile([], 50), /empty/);
  assert.throws(() => percentile([1], 101), /within \[0, 100\]/);
});

test('summary statistics', () => {
  const s = summarize([4, 1, 3, 2]);
  assert.is(s.count, 4);
  close(s.mean, 2.5, 'mean');
  close(s.std, Math.sqrt(1.25), 'std (ddof 0)');
  close(s.median, 2.5, 'median');
  assert.is(s.min, 1);
  assert.is(s.max, 4);
  close(s.percentiles[25], 1.75, 'p25');
  close(s.percentiles[75], 3.25, 'p75');
  assert.throws(() => summarize([1, NaN]), /value 1 is NaN/);
});

test('metrics reject empty or non-finite sets', () => {
  assert.throws(() => auroc([], [1]), /at least one real and one fake/);
  assert.throws(() => rocCurve([1], [Infinity]), /fake errors: value 0 is Infinity/);
});

// ---- brute force on random data ----------------------------------------------------------------

function randomSet(random: () => number, n: number, shift: number): number[] {
  // Coarse rounding makes ties common, within and across the sets.
  return Array.from({ length: n }, () => Math.round((random() + shift * random()) * 20) / 20);
}

function bruteRoc(real: number[], fake: number[]) {
  const thresholds = [...new Set([...real, ...fake])].sort((a, b) => b - a).concat(-Infinity);
  return thresholds.map((t) => ({ t, fpr: real.filter((v) => v > t).length / real.length, tpr: fake.filter((v) => v > t).length / fake.length }));
}

test('random sets: every metric agrees with a brute-force count', () => {
  const random = randomStream(11, 0);
  for (let trial = 0; trial < 40; trial++) {
    const real = randomSet(random, 1 + Math.floor(random() * 30), 0);
    const fake = randomSet(random, 1 + Math.floor(random() * 30), trial % 3);

    let wins = 0;
    for (const f of fake) for (const r of real) wins += f > r ? 1 : f === r ? 0.5 : 0;
    close(auroc(real, fake), wins / (real.length * fake.length), `auroc trial ${trial}`, 1e-12);

    const distinct = [...new Set([...real, ...fake])].sort((a, b) => b - a);
    let ap = 0;
    let lastRecall = 0;
    for (const t of distinct) {
      const tp = fake.filter((v) => v >= t).length;
      const fp = real.filter((v) => v >= t).length;
      ap += (tp / fake.length - lastRecall) * (tp / (tp + fp));
      lastRecall = tp / fake.length;
    }
    close(averagePrecision(real, fake), ap, `ap trial ${trial}`, 1e-12);

    const brute = bruteRoc(real, fake);
    const roc = rocCurve(real, fake);
    closeAll(roc.thresholds, brute.map((p) => p.t), `thresholds trial ${trial}`);
    closeAll(roc.fpr, brute.map((p) => p.fpr), `fpr trial ${trial}`);
    closeAll(roc.tpr, brute.map((p) => p.tpr), `tpr trial ${trial}`);

    for (const budget of [0, 0.05, 0.3]) {
      const allowed = brute.filter((p) => p.fpr <= budget);
      const tpr = Math.max(...allowed.map((p) => p.tpr));
      const got = tprAtFpr(real, fake, budget);
      assert.is(got.tpr, tpr, `tpr at ${budget}, trial ${trial}`);
      assert.ok(got.fpr <= budget);
      assert.is(got.threshold, Math.max(...allowed.filter((p) => p.tpr === tpr).map((p) => p.t)));
    }

    // EER: on the ROC segment where FPR - (1 - TPR) changes sign, FPR and the miss rate are equal.
    const i = brute.findIndex((p) => p.fpr + p.tpr - 1 >= 0);
    const a = brute[i - 1];
    const b = brute[i];
    const ga = a.fpr + a.tpr - 1;
    const gb = b.fpr + b.tpr - 1;
    const s = gb === 0 ? 1 : -ga / (gb - ga);
    close(eer(real, fake).rate, a.fpr + s * (b.fpr - a.fpr), `eer trial ${trial}`, 1e-12);
    close(eer(real, fake).rate, 1 - (a.tpr + s * (b.tpr - a.tpr)), `eer = miss rate, trial ${trial}`, 1e-12);

    // The separating threshold reaches the best J of any threshold, and reproduces its rates.
    const bestJ = Math.max(...brute.map((p) => p.tpr - p.fpr));
    const best = bestSeparation(real, fake);
    close(best.tpr - best.fpr, bestJ, `J trial ${trial}`, 1e-12);
    assert.is(best.fpr, Math.min(...brute.filter((p) => Math.abs(p.tpr - p.fpr - bestJ) < 1e-12).map((p) => p.fpr)), `fewest false positives, trial ${trial}`);
    assert.is(fractionAbove(real, best.threshold), best.fpr);
    assert.is(fractionAbove(fake, best.threshold), best.tpr);
  }
});

test('random sets: percentile hits the sorted values at exact ranks and is monotone', () => {
  const random = randomStream(12, 0);
  for (let trial = 0; trial < 20; trial++) {
    const values = Array.from({ length: 2 + Math.floor(random() * 50) }, () => random());
    const sorted = [...values].sort((a, b) => a - b);
    sorted.forEach((v, k) => close(percentile(values, (100 * k) / (sorted.length - 1)), v, `rank ${k}`, 1e-15));
    let last = -Infinity;
    for (let p = 0; p <= 100; p += 2.5) {
      const q = percentile(values, p);
      assert.ok(q >= last, `monotone at ${p}`);
      last = q;
    }
  }
});

test.run();
