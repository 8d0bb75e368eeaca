// f16 against f32 on real images (issue 7's rule, on a 1-in-100 subset of the CIFAR-10 test set in
// the suite; the whole set is measured by bench/precision-labels.ts, results in bench/results/).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareLabels } from '../../bench/precision-labels.js';
import { requires } from '../helpers/skip.js';
import { datasetMissing, datasetPath } from '../io/fixtures.js';
import { testGpu } from '../helpers/gpu.js';

const gpu = await testGpu();
const missing = datasetMissing('cifar10-test.tar.gz') ?? (gpu.features.has('shader-f16') ? null : 'the adapter has no shader-f16');

requires(test, missing, { ci: true })('bundled model, CIFAR-10 test 1 in 100: f16 labels at balanced equal f32 away from the threshold', async () => {
  const r = await compareLabels([datasetPath('cifar10-test.tar.gz')], 100);
  console.log(`  ${r.inputs} images: ${r.disagreements} disagreements, ${r.nearThreshold} within 1% of the threshold (${r.flipsNearThreshold} flipped), error difference max ${r.maxRelativeErrorDiff.toExponential(2)} mean ${r.meanRelativeErrorDiff.toExponential(2)} relative`);
  assert.is(r.inputs, 100);
  assert.is(r.disagreements, 0);
  assert.ok(r.maxRelativeErrorDiff <= 1e-2, `f16 errors within 1e-2 relative of f32: ${r.maxRelativeErrorDiff}`);
});

test.run();
