// No leak in `rcae score`'s loop (issue 19, item 5): 5,000 samples through scoreInputs, 100 per run
// (image files, archive members and .npy rows), in a fresh process (leak-probe.ts), with memory
// sampled after a full GC after every run. Over the second half the least-squares slope of the JS
// heap, of external memory and of RSS, in bytes per sample, must stay under the bounds below, and the
// live GPU buffers must not move at all. `npm run mutate` plants a leak of 1 KiB per decoded image in
// the input pipeline, which this test must fail.
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeVerdicts, probeVerdicts } from '../helpers/leak.js';

/**
 * Bytes per sample, derived as serve/leak.test.ts's bounds are (bench/NOTES.md, "Leak tests"): five
 * runs gave heap 35-39, external 0-4.4 and RSS -198 to 5,348 bytes per sample. The planted 1 KiB per
 * decoded image (80 of every 100 samples) adds ~820 per sample to external memory.
 */
export const SCORE_BOUNDS = { heapUsed: 256, external: 256, rss: 16384 };

test('5,000 samples through the scoring loop: heap, external memory and RSS flat in the second half, live GPU buffers exact', () => {
  const { samples, verdicts } = probeVerdicts(fileURLToPath(new URL('./leak-probe.js', import.meta.url)), SCORE_BOUNDS, ['gpuBuffers'], 'sample');
  assert.ok(samples >= 41, `${samples} samples`);
  assert.ok(verdicts.every((v) => v.ok), describeVerdicts(verdicts));
});

test.run();
