// The decode budget on its own: many decodes of random sizes taking their shares in two steps (the
// encoded bytes, then the pixels), with random delays, never hold more than the limit at once, all
// finish (no deadlock, whatever the order), one larger than the limit runs alone, and every share
// comes back. Then the real decoder under a budget: the same tensors as without one.
import sharp from 'sharp';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DecodeBudget, loadImageSample, type Holding } from '../../src/image/preprocess.js';
import { random, SEED } from '../helpers/random.js';

const test = suite('image/decode-budget');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One decode as decodeRgb8 and loadImageSample take their shares: grow, grow, settle, keep, release. */
async function decode(budget: DecodeBudget, encoded: number, pixels: number, rand: () => number, live: { now: number; max: number }): Promise<void> {
  const holding: Holding = await budget.open();
  try {
    await holding.grow(encoded);
    live.now += encoded;
    await sleep(rand() * 3);
    await holding.grow(pixels);
    live.now += pixels;
    live.max = Math.max(live.max, live.now);
    holding.settle();
    await sleep(rand() * 5);
    holding.keep(pixels);
    live.now -= encoded;
    await sleep(rand() * 5);
  } finally {
    holding.release();
    live.now -= pixels;
  }
}

test(`random decodes in two steps stay within the limit and all finish (seed ${SEED})`, async () => {
  const rand = random(SEED);
  for (let round = 0; round < 20; round++) {
    const limit = rand.int(50, 200);
    const budget = new DecodeBudget(limit);
    const live = { now: 0, max: 0 };
    // Each decode alone fits; together they do not.
    const decodes = Array.from({ length: rand.int(5, 40) }, () => {
      const encoded = rand.int(0, Math.floor(limit / 3));
      return decode(budget, encoded, rand.int(0, limit - encoded), rand.next, live);
    });
    await Promise.all(decodes);
    assert.ok(budget.peak <= limit, `round ${round}: peak ${budget.peak} over the limit ${limit}`);
    assert.ok(live.max <= limit, `round ${round}: the decodes held ${live.max} at once, over the limit ${limit}`);
    assert.is(budget.inUse, 0, 'every share came back');
  }
});

test('a decode larger than the whole budget waits until it is alone, then runs', async () => {
  const budget = new DecodeBudget(100);
  const small = await budget.open();
  await small.grow(60);
  small.settle();
  const large = await budget.open();
  let grown = false;
  const growing = large.grow(250).then(() => (grown = true));
  await sleep(20);
  assert.is(grown, false, 'waits while another decode holds a share');
  small.release();
  await growing;
  assert.is(budget.inUse, 250);
  // The next decode waits for it, even for one byte.
  large.settle();
  const next = budget.open().then(async (h) => {
    await h.grow(1);
    return h;
  });
  await sleep(20);
  assert.is(budget.inUse, 250);
  large.release();
  (await next).release();
  assert.is(budget.inUse, 0);
  assert.is(budget.peak, 250);
});

test('a failed decode gives its share back, and the next one starts', async () => {
  const budget = new DecodeBudget(1 << 20);
  const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#345' } }).png().toBuffer();
  const failed = await loadImageSample(Buffer.from('not an image'), 128, 'junk', await budget.open()).catch((err: Error) => err);
  assert.instance(failed, Error);
  assert.is(budget.inUse, 0);
  const plain = await loadImageSample(png, 128);
  const counted = await loadImageSample(png, 128, 'counted', await budget.open());
  assert.equal(counted.tensor, plain.tensor);
  assert.is(budget.inUse, 0);
  // 300 x 200 pixels of 3 channels: what the decode counted while it held them.
  assert.is(budget.peak, 300 * 200 * 3);
});

test.run();
