import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluateDetector } from '../../src/detect/evaluate.js';
import { parseThresholds } from '../../src/detect/thresholds.js';

test('evaluation of a small case, by hand', () => {
  // Real [0.1, 0.2, 0.3], fake [0.25, 0.4] (the hand-computed case of metrics.test.ts).
  const thresholds = parseThresholds({ reconstruction_thresholds: { thresholds: { loose: { value: 0.15 }, tight: { value: 0.3 } } } }, 'test');
  const e = evaluateDetector([0.1, 0.2, 0.3], [0.25, 0.4], thresholds);
  assert.ok(Math.abs(e.auroc - 5 / 6) < 1e-12);
  assert.ok(Math.abs(e.averagePrecision - 5 / 6) < 1e-12);
  assert.ok(Math.abs(e.eer.rate - 1 / 3) < 1e-12);
  assert.equal(e.tprAt1PercentFpr, { threshold: 0.3, tpr: 0.5, fpr: 0 });
  assert.equal(e.tprAt5PercentFpr, { threshold: 0.3, tpr: 0.5, fpr: 0 });
  assert.is(e.real.count, 3);
  assert.is(e.fake.count, 2);
  // Means 0.2 and 0.325; medians 0.2 and 0.325.
  assert.ok(Math.abs(e.meanRatio - 1.625) < 1e-12);
  assert.ok(Math.abs(e.medianRatio - 1.625) < 1e-12);
  // loose flags reals 0.2, 0.3 and both fakes; tight flags only the fake 0.4.
  assert.equal(e.levels, { loose: { value: 0.15, tpr: 1, fpr: 2 / 3 }, tight: { value: 0.3, tpr: 0.5, fpr: 0 } });
  assert.is(evaluateDetector([0.1], [0.2]).levels, undefined);
});

test.run();
