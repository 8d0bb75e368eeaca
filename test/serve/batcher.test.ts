// The batcher on its own, with a scorer that is a plain function of each sample (its mean), so that
// any mix-up of slices shows: random request sizes arriving at random times, passes never over
// maxBatch (except one request larger than it, alone), every request answered with its own values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Batcher, type Scored } from '../../src/serve/batcher.js';
import { random, SEED } from '../helpers/random.js';

const PER = 5;

function meanScorer(passes: number[][]) {
  return async (samples: Float32Array, count: number, withReconstruction: boolean): Promise<Scored> => {
    passes.push([count]);
    await new Promise((r) => setTimeout(r, 3));
    const error = new Float32Array(count);
    for (let i = 0; i < count; i++) error[i] = samples.subarray(i * PER, (i + 1) * PER).reduce((a, b) => a + b, 0) / PER;
    return { error, reconstruction: withReconstruction ? samples.map((v) => -v) : undefined };
  };
}

test(`random requests at random times: each gets its own results; passes respect maxBatch (seed ${SEED})`, async () => {
  const rng = random(SEED);
  const passes: number[][] = [];
  const batcher = new Batcher(meanScorer(passes), { maxBatch: 8, maxDelayMs: 2, maxQueue: 1000, sampleSize: PER });
  let value = 0;
  const requests = Array.from({ length: 120 }, () => {
    const count = rng.int(1, 11);
    const samples = new Float32Array(count * PER).map(() => value++);
    return { count, samples, withReconstruction: rng.next() < 0.3, delay: rng.int(0, 20) };
  });
  await Promise.all(requests.map(async (r) => {
    await new Promise((resolve) => setTimeout(resolve, r.delay));
    const scored = await batcher.submit(r.samples, r.count, r.withReconstruction);
    assert.is(scored.error.length, r.count);
    for (let i = 0; i < r.count; i++) assert.is(scored.error[i], r.samples[i * PER] + 2, 'the mean of five consecutive values');
    if (r.withReconstruction) assert.equal([...scored.reconstruction!], [...r.samples].map((v) => -v));
    else assert.is(scored.reconstruction, undefined);
  }));
  assert.ok(passes.length < requests.length, 'requests shared passes');
  for (const [n] of passes) assert.ok(n <= 8 || requests.some((r) => r.count === n), `a pass of ${n}`);
  assert.is(batcher.depth, 0);
});

test('a full queue refuses at once; an aborted request leaves the queue unscored', async () => {
  const passes: number[][] = [];
  const batcher = new Batcher(meanScorer(passes), { maxBatch: 4, maxDelayMs: 50, maxQueue: 3, sampleSize: PER });
  const first = batcher.submit(new Float32Array(2 * PER), 2, false);
  await batcher.submit(new Float32Array(2 * PER), 2, false).then(
    () => assert.unreachable('2 + 2 samples fit a queue of 3'),
    (err: Error) => assert.match(err.message, /queue holds 2 of at most 3 samples; 2 more do not fit/),
  );
  const abort = new AbortController();
  const aborted = batcher.submit(new Float32Array(PER), 1, false, abort.signal);
  abort.abort(new Error('gone'));
  await aborted.then(() => assert.unreachable('aborted'), (err: Error) => assert.is(err.message, 'gone'));
  assert.is(batcher.depth, 2);
  assert.is((await first).error.length, 2);
  assert.equal(passes, [[2]], 'the aborted sample never ran');
});

test('admitted samples hold their room while they decode; cancel gives it back', async () => {
  const batcher = new Batcher(meanScorer([]), { maxBatch: 4, maxDelayMs: 1, maxQueue: 4, sampleSize: PER });
  const decoding = batcher.admit(3);
  assert.is(batcher.admitted, 3);
  assert.throws(() => batcher.admit(2), /queue holds 3 of at most 4 samples/);
  decoding.cancel();
  decoding.cancel();
  assert.is(batcher.admitted, 0, 'a second cancel gives nothing back twice');
  const next = batcher.admit(4);
  const scored = await next.submit(new Float32Array(4 * PER).fill(1), false);
  assert.equal([...scored.error], [1, 1, 1, 1]);
  assert.throws(() => next.submit(new Float32Array(4 * PER), false), /used once/);
  assert.is(batcher.admitted + batcher.depth, 0);
});

test.run();
